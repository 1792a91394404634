// reexposure web app: upload, poll the reconstruction, render exposure in the browser.
//
// The server sends a radiance preview (binary "RXP2", see reexposure/apps/web/preview.py encode_preview):
// float16 naive radiance, float16 (ours - naive), float16 (guide - naive) with guide the radiance at
// strength 0, uint8 saturation mask. A strength s renders guide * (ours / guide)^s (the strength
// slider; recomputed once per change, not per frame); a picked highlight (binary "RXA1", the photo's
// clipped areas at the preview's size, encode_area_map) can have its own s. Rendering a new EV is
// expose (x 2^EV), clip at 1, apply the camera response (ldr = lin^(1/gamma)); it runs in a WebGL2
// fragment shader, or, without WebGL2, in a 2D canvas through a lookup table. No server round trip.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  const state = {
    config: null, job: null, data: null, renderer: null,
    ev: 0, split: 0.5, outline: false, strength: 1, base: null,
    areas: null, areaStrength: new Map(), picking: false, selected: 0,
    pending: false, frames: 0, frameTimes: [], pollTimer: null,
  };
  let readyResolve, configuredResolve;
  const configured = new Promise((r) => { configuredResolve = r; });
  const ready = { promise: null };
  ready.promise = new Promise((r) => { readyResolve = r; });

  // ------------------------------------------------------------------ float16
  const HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
    HALF[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }

  function parsePreview(buf) {
    const dv = new DataView(buf);
    const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
    if (magic !== "RXP2") throw new Error("unexpected preview format");
    const w = dv.getUint32(4, true), h = dv.getUint32(8, true), scale = dv.getFloat32(12, true);
    const n = w * h;
    if (buf.byteLength < 16 + 19 * n) throw new Error("truncated preview");
    return {
      w, h, scale,
      naive16: new Uint16Array(buf, 16, 3 * n),
      delta16: new Uint16Array(buf, 16 + 6 * n, 3 * n),
      gdelta16: new Uint16Array(buf, 16 + 12 * n, 3 * n),
      mask: new Uint8Array(buf, 16 + 18 * n, n),
    };
  }

  // The clipped areas at the preview's size: labels (0 = none), and a pixel of the photo inside
  // each area (points[2(a-1)], points[2(a-1)+1]: x, y), which names it to the downloads' ?areas=.
  function parseAreas(buf) {
    const dv = new DataView(buf);
    const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
    if (magic !== "RXA1") throw new Error("unexpected area map format");
    const w = dv.getUint32(4, true), h = dv.getUint32(8, true), n = dv.getUint32(12, true);
    if (buf.byteLength < 16 + 8 * n + 4 * w * h) throw new Error("truncated area map");
    return { w, h, n, points: new Int32Array(buf, 16, 2 * n), labels: new Uint32Array(buf, 16 + 8 * n, w * h) };
  }

  // float32 -> float16 bits, rounded to nearest (values beyond the half range become 65504)
  const F32 = new Float32Array(1), U32 = new Uint32Array(F32.buffer);
  function toHalf(v) {
    F32[0] = v;
    const x = U32[0], sign = (x >>> 16) & 0x8000, e = ((x >>> 23) & 0xff) - 112, m = x & 0x7fffff;
    if (e >= 31) return sign | 0x7bff;
    if (e <= 0) {  // subnormal half (or zero)
      if (e < -10) return sign;
      const mm = m | 0x800000, shift = 14 - e;
      return sign | ((mm >> shift) + ((mm >> (shift - 1)) & 1));
    }
    return (sign | (e << 10) | (m >> 13)) + ((m >> 12) & 1);
  }

  // The values of a preview that depend on the strength (where the network added something:
  // delta != guide delta), found once per preview: value indices, and the pixels that hold one.
  function variable(b) {
    if (!b.varIdx) {
      const n3 = b.delta16.length, idx = [], pix = [];
      for (let i = 0; i < n3; i++) {
        if (b.delta16[i] !== b.gdelta16[i]) {
          idx.push(i);
          const p = (i / 3) | 0;
          if (pix.length === 0 || pix[pix.length - 1] !== p) pix.push(p);
        }
      }
      b.varIdx = Int32Array.from(idx);
      b.varPix = Int32Array.from(pix);
    }
    return b;
  }

  // The preview at strength s: a new data object whose delta16 is (ours_s - naive), ours_s =
  // guide * (ours / guide)^s per channel (exact for the full-resolution blend, whose network
  // brightness is one factor exp(w b) that strength raises to the power s). It keeps a reference
  // to the preview it came from (base), whose strength-free parts the histogram and the renderers
  // reuse. With own = {labels, strengths} (the area map's labels, a Map area -> strength), a pixel
  // of an area in strengths takes that area's strength instead of s.
  function withStrength(b, s, own) {
    variable(b);
    if (own && !own.strengths.size) own = null;
    const key = strengthKey(s, own);
    if (s === 1 && !own) return { ...b, base: b, hist: null, strength: 1, key };
    const out = b.gdelta16.slice(), idx = b.varIdx;
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k], nv = HALF[b.naive16[i]], o = nv + HALF[b.delta16[i]], g = nv + HALF[b.gdelta16[i]];
      let e = s;
      if (own) {
        const a = own.labels[(i / 3) | 0];
        if (a && own.strengths.has(a)) e = own.strengths.get(a);
      }
      out[i] = g > 0 && o > 0 ? toHalf(g * (o / g) ** e - nv) : b.gdelta16[i];
    }
    return { ...b, base: b, delta16: out, hist: null, strength: s, key, naiveF: null, oursF: null, invGamma: null };
  }

  function strengthKey(s, own) {  // own without any area strength: the key of s alone
    return own && own.strengths.size ? `${s}|${[...own.strengths].map(([a, v]) => `${a}:${v}`).join(",")}` : String(s);
  }

  // the area strengths the page renders with (null until the area map has arrived)
  function ownStrengths() {
    return state.areas ? { labels: state.areas.labels, strengths: state.areaStrength } : null;
  }

  // ------------------------------------------------------------------ histogram (log domain)
  // Radiance values (stored units) fall in log2 bins of 1/32 stop once; any EV then maps bins to
  // display levels in O(bins), so the histogram costs nothing per frame.
  const H_LO = -14, H_HI = 18, H_RES = 32, H_N = (H_HI - H_LO) * H_RES + 1, OUT_BINS = 64;
  function logBin(v) {
    if (!(v > 0)) return 0;
    const b = Math.floor((Math.log2(v) - H_LO) * H_RES) + 1;
    return b < 1 ? 1 : b >= H_N ? H_N - 1 : b;
  }
  const HALF_BIN = new Uint16Array(32768);
  for (let h = 0; h < 32768; h++) HALF_BIN[h] = logBin(HALF[h]);

  // Pixel p of data d counted into h: its naive side (naive, naiveMax) and/or its ours side.
  function countPixel(h, d, p, naiveSide, oursSide) {
    let mo = 0, mn = 0;
    for (let c = 0; c < 3; c++) {
      const i = 3 * p + c, nh = d.naive16[i] & 0x7fff, dh = d.delta16[i];
      const nv = HALF[nh];
      const ov = dh === 0 ? nv : nv + HALF[dh];
      if (naiveSide) h.naive[HALF_BIN[nh]]++;
      if (oursSide) h.ours[c][dh === 0 ? HALF_BIN[nh] : logBin(ov)]++;
      if (nv > mn) mn = nv;
      if (ov > mo) mo = ov;
    }
    if (oursSide) h.oursMax[logBin(mo)]++;
    if (naiveSide) h.naiveMax[logBin(mn)]++;
  }

  function emptyHistograms(withNaive) {
    return { ours: [new Float64Array(H_N), new Float64Array(H_N), new Float64Array(H_N)],
      oursMax: new Float64Array(H_N), naive: withNaive ? new Float64Array(H_N) : null,
      naiveMax: withNaive ? new Float64Array(H_N) : null };
  }

  // The histograms of d (every pixel, every second one above 4 MP): the naive side, and the ours
  // side of the pixels whose values do not depend on the strength, are counted once per preview;
  // the ours side of the others for each strength.
  function buildHistograms(d) {
    const b = variable(d.base || d), n = d.w * d.h, step = n > 4e6 ? 2 : 1, vp = b.varPix;
    if (!b.histFixed) {
      const f = emptyHistograms(true);
      let k = 0;
      for (let p = 0; p < n; p += step) {
        while (k < vp.length && vp[k] < p) k++;
        countPixel(f, b, p, true, !(k < vp.length && vp[k] === p));
      }
      b.histFixed = f;
    }
    const f = b.histFixed, h = emptyHistograms(false);
    for (let k = 0; k < vp.length; k++) if (vp[k] % step === 0) countPixel(h, d, vp[k], false, true);
    for (let c = 0; c < 3; c++) for (let x = 0; x < H_N; x++) h.ours[c][x] += f.ours[c][x];
    for (let x = 0; x < H_N; x++) h.oursMax[x] += f.oursMax[x];
    return { ours: h.ours, naive: f.naive, oursMax: h.oursMax, naiveMax: f.naiveMax, total: Math.ceil(n / step) };
  }

  function drawHistogram() {
    const hist = state.data && state.data.hist;
    const cv = $("histogram"), ctx = cv.getContext("2d");
    ctx.fillStyle = "#111"; ctx.fillRect(0, 0, cv.width, cv.height);
    if (!hist) return;
    const gain = 2 ** state.ev / state.data.scale, inv = 1 / state.config.crf_gamma;
    const map = new Uint8Array(H_N), clipped = new Uint8Array(H_N);
    for (let j = 1; j < H_N; j++) {
      const lower = 2 ** (H_LO + (j - 1) / H_RES) * gain, center = 2 ** (H_LO + (j - 0.5) / H_RES) * gain;
      map[j] = Math.min(OUT_BINS - 1, Math.floor(Math.min(1, center) ** inv * OUT_BINS));
      clipped[j] = lower >= 1 - 1e-6 ? 1 : 0;
    }
    const remap = (src) => {
      const out = new Float64Array(OUT_BINS);
      for (let j = 0; j < H_N; j++) out[map[j]] += src[j];
      return out;
    };
    const ch = hist.ours.map(remap), nv = remap(hist.naive);
    let peak = 1;
    for (let b = 1; b < OUT_BINS - 1; b++) peak = Math.max(peak, ch[0][b], ch[1][b], ch[2][b], nv[b] / 3);
    const W = cv.width, H = cv.height, bw = W / OUT_BINS;
    ctx.globalCompositeOperation = "lighter";
    ["#c33", "#3c3", "#36f"].forEach((col, c) => {
      ctx.fillStyle = col;
      for (let b = 0; b < OUT_BINS; b++) {
        const hgt = Math.min(1, ch[c][b] / peak) * (H - 4);
        ctx.fillRect(b * bw, H - hgt, bw - 0.5, hgt);
      }
    });
    ctx.globalCompositeOperation = "source-over";
    ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1.5; ctx.setLineDash([4, 3]); ctx.beginPath();
    for (let b = 0; b < OUT_BINS; b++) {
      const y = H - Math.min(1, nv[b] / 3 / peak) * (H - 4);
      if (b === 0) ctx.moveTo(0, y); else ctx.lineTo(b * bw, y);
      ctx.lineTo((b + 1) * bw, y);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    let co = 0, cn = 0;
    for (let j = 0; j < H_N; j++) if (clipped[j]) { co += hist.oursMax[j]; cn += hist.naiveMax[j]; }
    const pct = (x) => (100 * x / hist.total).toFixed(x / hist.total < 0.01 ? 2 : 1) + "%";
    $("clip-stats").textContent = `clipped at this exposure: reconstructed ${pct(co)}, naive ${pct(cn)}`;
  }

  // ------------------------------------------------------------------ WebGL2 renderer
  const VS = `#version 300 es
out vec2 vUv;
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  vUv = p;
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;
  // The textures hold radiance already through the camera curve, e = r^(1/gamma) (unbounded above):
  // for a gamma curve (r * 2^EV)^(1/gamma) = e * 2^(EV/gamma), so a frame is one multiply and a
  // clip per channel. Compiled once per variant (#define OUTLINE): software GL runs both sides of
  // a branch.
  const FS = (defines) => `#version 300 es
${defines}
precision highp float;
uniform sampler2D uNaive; // linearised photo, through the camera curve (storage units)
uniform sampler2D uOurs;  // reconstructed radiance, through the camera curve
uniform sampler2D uMask;  // saturation mask
uniform float uGain;      // (2^EV / storage scale)^(1/gamma)
uniform float uSplit;     // texture x of the divider: naive on the left, ours on the right
uniform vec2 uPx;         // outline half-width in texture units
in vec2 vUv;
out vec4 outColor;
bool inside(vec2 uv) { return texture(uMask, uv).r >= 0.5; }
void main() {
  vec2 uv = vec2(vUv.x, 1.0 - vUv.y);
  vec3 e = uv.x < uSplit ? texture(uNaive, uv).rgb : texture(uOurs, uv).rgb;
  vec3 c = min(e * uGain, 1.0);
#ifdef OUTLINE
  bool m = inside(uv);
  if (m != inside(uv + vec2(uPx.x, 0.0)) || m != inside(uv - vec2(uPx.x, 0.0)) ||
      m != inside(uv + vec2(0.0, uPx.y)) || m != inside(uv - vec2(0.0, uPx.y))) c = vec3(1.0, 0.0, 1.0);
#endif
  outColor = vec4(c, 1.0);
}`;

  // Float32 textures of the naive and reconstructed sides through the camera curve, made once.
  // For a strength other than the preview's own, only the values that depend on it are decoded
  // again; the naive side and the rest come from the preview (decoded once per curve).
  function decodeFloats(d, invGamma) {
    if (d.naiveF && d.invGamma === invGamma) return;
    const curve = invGamma === 0.5 ? Math.sqrt : (v) => v ** invGamma;
    const b = d.base;
    if (b && b !== d) {
      decodeFloats(b, invGamma);
      d.naiveF = b.naiveF;
      d.oursF = b.oursF.slice();
      d.invGamma = invGamma;
      const idx = variable(b).varIdx;
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k], nv = HALF[d.naive16[i]];
        d.oursF[i] = d.delta16[i] === 0 ? curve(nv) : curve(Math.max(0, nv + HALF[d.delta16[i]]));
      }
      return;
    }
    const n3 = 3 * d.w * d.h;
    d.naiveF = new Float32Array(n3);
    d.oursF = new Float32Array(n3);
    d.invGamma = invGamma;
    for (let i = 0; i < n3; i++) {
      const nv = HALF[d.naive16[i]], e = curve(nv);
      d.naiveF[i] = e;
      d.oursF[i] = d.delta16[i] === 0 ? e : curve(Math.max(0, nv + HALF[d.delta16[i]]));
    }
  }

  // The drawing buffer matches the canvas's size on screen (device pixels, at most the preview):
  // each frame shades the pixels that are shown, and the compositor does not rescale.
  function fitCanvas(canvas, d) {
    const dpr = window.devicePixelRatio || 1;
    let w = Math.round((state.css ? state.css.w : d.w) * dpr), h = Math.round((state.css ? state.css.h : d.h) * dpr);
    if (w > d.w || h > d.h || w < 1 || h < 1) { w = d.w; h = d.h; }
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  }

  function makeWebGL(canvas) {
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: false, depth: false, stencil: false,
      premultipliedAlpha: false, preserveDrawingBuffer: false });
    if (!gl) return null;
    const compile = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src); gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      return s;
    };
    const vs = compile(gl.VERTEX_SHADER, VS);
    const programs = new Map();
    const program = (outline) => {
      const key = String(outline);
      if (!programs.has(key)) {
        const prog = gl.createProgram();
        gl.attachShader(prog, vs);
        gl.attachShader(prog, compile(gl.FRAGMENT_SHADER,
          FS(outline ? "#define OUTLINE" : "")));
        gl.linkProgram(prog);
        if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
        const u = { prog };
        for (const name of ["uNaive", "uOurs", "uMask", "uGain", "uSplit", "uPx"]) {
          u[name] = gl.getUniformLocation(prog, name);
        }
        gl.useProgram(prog);
        gl.uniform1i(u.uNaive, 0); gl.uniform1i(u.uOurs, 1); gl.uniform1i(u.uMask, 2);
        programs.set(key, u);
      }
      return programs.get(key);
    };
    program(false);  // compile the common variant now: shader errors surface at start-up
    const vao = gl.createVertexArray();
    const textures = [gl.createTexture(), gl.createTexture(), gl.createTexture()];
    let data = null, uploaded = { naiveF: null, mask: null };  // what the textures hold
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const glName = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
    const soft = glName.match(/swiftshader|llvmpipe|softpipe|software rasterizer|basic render driver/i);
    return {
      name: "WebGL2",
      gl,
      software: soft ? soft[0] : null,
      setData(d) {
        const max = gl.getParameter(gl.MAX_TEXTURE_SIZE);
        if (d.w > max || d.h > max) throw new Error("preview larger than the GPU's texture limit");
        decodeFloats(d, 1 / state.config.crf_gamma);
        data = d;
        gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
        // The drawing buffer is never larger than the preview (fitCanvas), so textures are only
        // ever minified, by less than ~2x: nearest-texel sampling for both filters. Equal min and
        // mag filters also spare software GL a level-of-detail computation per pixel (a large
        // share of the frame time on SwiftShader).
        const upload = (tex, unit, internal, format, type, pixels) => {
          gl.activeTexture(gl.TEXTURE0 + unit);
          gl.bindTexture(gl.TEXTURE_2D, tex);
          gl.texImage2D(gl.TEXTURE_2D, 0, internal, d.w, d.h, 0, format, type, pixels);
          gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
          gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
          gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
          gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
        };
        // another strength of the same preview shares its naive side and mask: upload the ours side only
        if (d.naiveF !== uploaded.naiveF) upload(textures[0], 0, gl.RGB32F, gl.RGB, gl.FLOAT, d.naiveF);
        upload(textures[1], 1, gl.RGB32F, gl.RGB, gl.FLOAT, d.oursF);
        if (d.mask !== uploaded.mask) upload(textures[2], 2, gl.R8, gl.RED, gl.UNSIGNED_BYTE, d.mask);
        uploaded = { naiveF: d.naiveF, mask: d.mask };
      },
      draw(p) {
        fitCanvas(canvas, data);
        gl.viewport(0, 0, canvas.width, canvas.height);
        const u = program(!!p.outline);
        gl.useProgram(u.prog);
        gl.bindVertexArray(vao);
        gl.uniform1f(u.uGain, p.gain ** p.invGamma);
        gl.uniform1f(u.uSplit, p.split);
        gl.uniform2f(u.uPx, 1.5 / canvas.width, 1.5 / canvas.height);
        gl.drawArrays(gl.TRIANGLES, 0, 3);
      },
      sync() { const px = new Uint8Array(4); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px); },
    };
  }

  // ------------------------------------------------------------------ 2D canvas fallback
  // Each channel value becomes an index into log2 bins of 1/256 stop (error < 0.2 of an 8-bit
  // level); a frame is one 8-bit lookup table per EV and one pass over the pixels.
  const L_LO = -14, L_HI = 18, L_RES = 256, L_N = (L_HI - L_LO) * L_RES + 2;
  function lutIndex(v) {
    if (!(v > 0)) return 0;
    const i = Math.round((Math.log2(v) - L_LO) * L_RES) + 1;
    return i < 1 ? 1 : i >= L_N ? L_N - 1 : i;
  }

  function makeCanvas2D(canvas) {
    const ctx = canvas.getContext("2d", { alpha: false });
    if (!ctx) return null;
    let data = null, img = null, naiveIdx = null, oursIdx = null, edge = null, edgePx = -1, w = 0, h = 0;
    let cache = { base: null, naiveIdx: null, oursIdx: null };  // per preview: its own strength's indices
    let cols = null, rows = null;  // canvas column/row -> preview column/row (nearest)
    const halfIdx = new Uint16Array(65536);
    for (let x = 0; x < 65536; x++) halfIdx[x] = lutIndex(HALF[x]);
    // the look-up index of a reconstructed value (naive half nh plus delta half dh)
    const oursIndex = (nh, dh) => (dh === 0 ? halfIdx[nh] : lutIndex(HALF[nh] + HALF[dh]));
    const base = new Float64Array(L_N), lut = new Uint8Array(L_N);
    const lr = new Uint32Array(L_N), lg = new Uint32Array(L_N), lb = new Uint32Array(L_N);
    let baseGamma = null;
    function buildEdges(px) {  // outline pixels of the mask, at preview resolution
      const mask = data.mask;
      edge = new Uint8Array(w * h);
      const r = Math.max(1, Math.round(px));
      const q = (xx, yy) => (mask[Math.min(h - 1, Math.max(0, yy)) * w + Math.min(w - 1, Math.max(0, xx))] >= 128);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const m = mask[y * w + x] >= 128;
          if (m !== q(x + r, y) || m !== q(x - r, y) || m !== q(x, y + r) || m !== q(x, y - r)) edge[y * w + x] = 1;
        }
      }
      edgePx = px;
    }
    return {
      name: "2D canvas",
      setData(d) {
        data = d; w = d.w; h = d.h; img = null;
        const b = d.base || d;
        if (cache.base !== b) {  // a new preview: both sides, at the preview's own strength
          const n3 = 3 * w * h, ni = new Uint16Array(n3), oi = new Uint16Array(n3);
          for (let i = 0; i < n3; i++) {
            const nh = b.naive16[i];
            ni[i] = halfIdx[nh];
            oi[i] = oursIndex(nh, b.delta16[i]);
          }
          cache = { base: b, naiveIdx: ni, oursIdx: oi };
          edge = null; edgePx = -1;  // the outline follows the mask, which is the preview's
        }
        naiveIdx = cache.naiveIdx;
        if (d.delta16 === b.delta16) {
          oursIdx = cache.oursIdx;
        } else {  // another strength: only the values that depend on it
          oursIdx = cache.oursIdx.slice();
          const idx = variable(b).varIdx;
          for (let k = 0; k < idx.length; k++) {
            const i = idx[k];
            oursIdx[i] = oursIndex(d.naive16[i], d.delta16[i]);
          }
        }
      },
      draw(p) {
        fitCanvas(canvas, data);  // like WebGL: shade the pixels shown, no more
        const cw = canvas.width, ch = canvas.height;
        if (!img || img.width !== cw || img.height !== ch) {
          img = ctx.createImageData(cw, ch);
          cols = new Int32Array(cw); rows = new Int32Array(ch);
          for (let x = 0; x < cw; x++) cols[x] = Math.min(w - 1, Math.floor((x + 0.5) * w / cw));
          for (let y = 0; y < ch; y++) rows[y] = Math.min(h - 1, Math.floor((y + 0.5) * h / ch));
        }
        if (baseGamma !== p.invGamma) {  // bin centre through the camera curve, once per curve
          base[0] = 0;
          for (let i = 1; i < L_N; i++) base[i] = (2 ** (L_LO + (i - 1) / L_RES)) ** p.invGamma;
          baseGamma = p.invGamma;
        }
        const g = 255 * p.gain ** p.invGamma;
        for (let i = 0; i < L_N; i++) {  // RGBA bytes of one little-endian 32-bit word
          const v = Math.min(255, Math.round(base[i] * g));
          lr[i] = v; lg[i] = v << 8; lb[i] = ((v << 16) | 0xff000000) >>> 0;
        }
        if (p.outline && edgePx !== p.outlinePx) buildEdges(p.outlinePx);
        const out = new Uint32Array(img.data.buffer), sx = Math.round(p.split * cw);
        for (let y = 0; y < ch; y++) {
          const row = rows[y] * w;
          let o = y * cw;
          const mid = o + sx, end = o + cw;
          for (let x = 0; o < mid; o++, x++) {
            const s = 3 * (row + cols[x]);
            out[o] = lr[naiveIdx[s]] | lg[naiveIdx[s + 1]] | lb[naiveIdx[s + 2]];
          }
          for (let x = sx; o < end; o++, x++) {
            const s = 3 * (row + cols[x]);
            out[o] = lr[oursIdx[s]] | lg[oursIdx[s + 1]] | lb[oursIdx[s + 2]];
          }
          if (p.outline) {
            for (let x = 0, q = y * cw; x < cw; x++, q++) if (edge[row + cols[x]]) out[q] = 0xffff00ff;
          }
        }
        ctx.putImageData(img, 0, 0);
      },
      sync() {},
    };
  }

  // ------------------------------------------------------------------ rendering loop
  function renderParams() {
    const canvas = $("canvas");
    const shown = (state.css && state.css.w) || canvas.width;
    return {
      gain: 2 ** state.ev / state.data.scale,
      invGamma: 1 / state.config.crf_gamma,
      split: state.split,
      outline: state.outline,
      outlinePx: Math.max(1, 1.5 * state.data.w / shown),  // preview pixels (2D canvas outline)
    };
  }

  function renderNow() {
    if (!state.data || !state.renderer) return;
    state.renderer.draw(renderParams());
    const now = performance.now();
    // the histogram and clip readout follow at most 10 times a second while the slider moves,
    // and always settle on the last exposure
    clearTimeout(state.histTimer);
    if (now - (state.histAt || 0) >= 100) { state.histAt = now; drawHistogram(); }
    else state.histTimer = setTimeout(() => { state.histAt = performance.now(); drawHistogram(); }, 100);
    state.frames++;
    state.frameTimes.push(now);
    while (state.frameTimes.length && now - state.frameTimes[0] > 1000) state.frameTimes.shift();
  }

  function requestRender() {
    if (state.pending) return;
    state.pending = true;
    requestAnimationFrame(() => { state.pending = false; renderNow(); });
  }

  setInterval(() => {
    const t = state.frameTimes, now = performance.now();
    $("fps").textContent = t.length > 5 && now - t[t.length - 1] < 300
      ? `${Math.round((t.length - 1) * 1000 / (t[t.length - 1] - t[0]))} fps` : "";
  }, 250);

  // ------------------------------------------------------------------ UI helpers
  function showMessage(text) {
    const m = $("message");
    m.textContent = text || "";
    m.hidden = !text;
  }

  function showProgress(text, fraction) {
    $("progress").hidden = false;
    $("progress-text").textContent = text;
    const fill = $("progress-fill");
    if (fraction == null) { fill.classList.add("indeterminate"); fill.style.width = "100%"; }
    else { fill.classList.remove("indeterminate"); fill.style.width = `${Math.round(100 * fraction)}%`; }
  }

  function hideProgress() { $("progress").hidden = true; }

  function fmtBytes(n) { return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`; }

  function errorText(xhrStatus, body, retryAfter) {
    let detail = "";
    try { detail = JSON.parse(body).detail; } catch (e) { detail = ""; }
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
    if (xhrStatus === 503 && retryAfter) return `${detail || "The server is busy."} (retry in ${retryAfter} s)`;
    return detail || `The server answered HTTP ${xhrStatus}.`;
  }

  function setBusy(busy) {
    $("file").disabled = busy;
    for (const b of document.querySelectorAll("#samples button")) b.disabled = busy;
  }

  // ------------------------------------------------------------------ jobs
  function guessType(file) {
    const accepted = state.config.accepted_types;
    if (accepted.includes(file.type)) return file.type;
    const ext = (file.name.match(/\.[^.]+$/) || [""])[0].toLowerCase();
    const byExt = { ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
      ".tiff": "image/tiff", ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif" };
    return byExt[ext] || null;
  }

  async function upload(file) {
    showMessage("");
    const cfg = await configured;
    if (file.size > cfg.max_upload_bytes) {
      showMessage(`This file is ${fmtBytes(file.size)}; this server accepts photos up to ${fmtBytes(cfg.max_upload_bytes)}.`);
      return;
    }
    const type = guessType(file);
    if (!type) {
      showMessage(`${file.name} is not a supported photo type; use JPEG, PNG, TIFF, WebP or HEIC.`);
      return;
    }
    setBusy(true);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    xhr.setRequestHeader("Content-Type", type);
    xhr.setRequestHeader("X-Filename", file.name.replace(/[^\w.-]+/g, "_").slice(0, 100));
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) showProgress(`Uploading ${fmtBytes(e.loaded)} of ${fmtBytes(e.total)}…`, e.loaded / e.total);
    };
    xhr.onload = () => jobStarted(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After"));
    xhr.onerror = () => { setBusy(false); hideProgress(); showMessage("The upload failed (network error)."); };
    showProgress(`Uploading ${file.name}…`, 0);
    xhr.send(file);
  }

  async function pickSample(name) {
    showMessage("");
    setBusy(true);
    showProgress(`Loading the sample ${name}…`, null);
    try {
      const r = await fetch(`/api/samples/${encodeURIComponent(name)}`, { method: "POST" });
      jobStarted(r.status, await r.text(), r.headers.get("Retry-After"));
    } catch (e) {
      setBusy(false); hideProgress(); showMessage(`Could not start the sample: ${e.message}`);
    }
  }

  function jobStarted(status, body, retryAfter) {
    if (status !== 202) {
      setBusy(false); hideProgress();
      showMessage(errorText(status, body, retryAfter));
      return;
    }
    const job = JSON.parse(body);
    state.job = job;
    poll(job.id);
  }

  async function poll(id) {
    let s;
    try {
      const r = await fetch(`/api/jobs/${id}`, { cache: "no-store" });
      s = JSON.parse(await r.text());
      if (!r.ok) throw new Error(s.detail || `HTTP ${r.status}`);
    } catch (e) {
      setBusy(false); hideProgress(); showMessage(`Lost the job: ${e.message}`);
      return;
    }
    state.job = s;
    if (s.state === "queued") {
      showProgress(`Waiting in the queue (position ${s.queue_position})…`, null);
    } else if (s.state === "running") {
      const pct = s.progress != null && s.progress < 1 ? ` ${Math.round(100 * s.progress)}%` : "";
      showProgress(`Reconstructing ${s.width}×${s.height}: ${s.stage}${pct} (${s.elapsed_s.toFixed(1)} s)`, s.progress);
    } else if (s.state === "done") {
      showProgress(`Reconstructed in ${s.elapsed_s.toFixed(1)} s; downloading the radiance preview…`, null);
      loadPreview(s);
      return;
    } else {
      setBusy(false); hideProgress(); showMessage(s.error || "The reconstruction failed.");
      return;
    }
    state.pollTimer = setTimeout(() => poll(id), 250);
  }

  async function loadPreview(job) {
    let d;
    try {
      const r = await fetch(job.preview.url);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      d = parsePreview(await r.arrayBuffer());
    } catch (e) {
      setBusy(false); hideProgress(); showMessage(`Could not load the preview: ${e.message}`);
      return;
    }
    state.base = d;
    resetAreas();
    d = withStrength(d, state.strength, null);
    d.hist = buildHistograms(d);
    state.data = d;
    $("viewer").hidden = false;
    $("intake").hidden = true;
    try {
      state.renderer.setData(d);
    } catch (e) {
      if (state.renderer.name === "WebGL2") {  // e.g. a texture limit: fall back
        state.renderer = makeCanvas2D(freshCanvas());
        $("renderer-name").textContent = `renderer: ${state.renderer.name} (WebGL2 failed: ${e.message})`;
        state.renderer.setData(d);
      } else throw e;
    }
    hideProgress(); setBusy(false);
    $("dl-uhdr").hidden = !job.downloads.ultrahdr;
    updateDownloads();
    const mp = (job.width * job.height / 1e6).toFixed(1);
    $("info").textContent = `${job.name}: ${job.width}×${job.height} (${mp} MP), preview ${d.w}×${d.h}; `
      + `${(100 * job.clipped_fraction).toFixed(1)}% of the pixels were clipped.`;
    layoutCanvas();
    positionDivider();
    renderNow();
    readyResolve(true);
    loadAreas(job, d);
  }

  // The area map, fetched after the preview is shown (the page works without it); then "Pick a
  // highlight" is enabled.
  async function loadAreas(job, d) {
    try {
      const r = await fetch(job.preview.areas_url);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const a = parseAreas(await r.arrayBuffer());
      if (a.w !== d.w || a.h !== d.h) throw new Error("the area map does not match the preview");
      if (state.job !== job) return;  // another photo meanwhile
      state.areas = a;
      $("area-pick").disabled = a.n === 0;
      $("area-info").textContent = a.n === 0 ? "no blown highlights to pick" : "";
    } catch (e) {
      $("area-info").textContent = `highlights cannot be picked: ${e.message}`;
    }
  }

  // The picked highlight's outline, over the picture (a canvas at the preview's size, scaled with it).
  function drawAreaOverlay() {
    const o = $("area-overlay"), a = state.areas, sel = state.selected;
    o.hidden = !(a && sel && state.css);
    if (o.hidden) return;
    const c = $("canvas");
    o.width = a.w; o.height = a.h;
    Object.assign(o.style, { width: `${state.css.w}px`, height: `${state.css.h}px`,
      left: `${c.offsetLeft}px`, top: `${c.offsetTop}px` });
    const img = new ImageData(a.w, a.h), px = img.data, L = a.labels, w = a.w, h = a.h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (L[i] !== sel) continue;
        if (x > 0 && L[i - 1] === sel && x < w - 1 && L[i + 1] === sel
            && y > 0 && L[i - w] === sel && y < h - 1 && L[i + w] === sel) continue;
        px.set([255, 170, 40, 255], 4 * i);  // an edge pixel of the area
      }
    }
    o.getContext("2d").putImageData(img, 0, 0);
  }

  function resetAreas() {
    state.areas = null; state.areaStrength.clear(); state.selected = 0;
    drawAreaOverlay();
    setPicking(false);
    $("area-pick").disabled = true;
    $("area-controls").hidden = true;
    $("area-info").textContent = "";
  }

  function setPicking(on) {
    state.picking = on;
    $("area-pick").setAttribute("aria-pressed", String(on));
    $("stage").classList.toggle("picking", on);
    if (on) $("area-info").textContent = "click a blown highlight in the picture";
  }

  // The area under a click (or the nearest within 4 preview pixels), 0 if none.
  function areaAt(e) {
    const a = state.areas, r = $("canvas").getBoundingClientRect();
    const px = Math.floor((e.clientX - r.left) / r.width * a.w), py = Math.floor((e.clientY - r.top) / r.height * a.h);
    let best = 0, bestD = Infinity;
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = px + dx, y = py + dy, d2 = dx * dx + dy * dy;
        if (x < 0 || y < 0 || x >= a.w || y >= a.h || d2 > 16 || d2 >= bestD) continue;
        const l = a.labels[y * a.w + x];
        if (l) { best = l; bestD = d2; }
      }
    }
    return best;
  }

  function pickArea(e) {
    setPicking(false);
    const label = areaAt(e);
    if (!label) {
      $("area-info").textContent = "no blown highlight there (tick \u201cOutline clipped regions\u201d to see them)";
      return;
    }
    state.selected = label;
    const v = state.areaStrength.has(label) ? state.areaStrength.get(label) : state.strength;
    $("area-strength").value = String(v);
    $("area-strength-value").textContent = `${v.toFixed(2)}×`;
    $("area-controls").hidden = false;
    const p = state.areas.points;
    $("area-info").textContent = `highlight at ${p[2 * label - 2]}, ${p[2 * label - 1]} of the photo`;
    drawAreaOverlay();
  }

  function setAreaStrength(v, now) {
    if (!state.selected) return;
    const s = Math.max(0, Math.min(3, Number(v)));
    state.areaStrength.set(state.selected, s);
    $("area-strength-value").textContent = `${s.toFixed(2)}×`;
    schedule(now);
  }

  function updateDownloads() {
    const job = state.job;
    if (!job || !job.downloads) return;
    const dl = job.downloads, ev = state.ev.toFixed(2);
    const q = [];
    if (state.strength !== 1) q.push(`strength=${state.strength.toFixed(2)}`);
    if (state.areas && state.areaStrength.size) {
      const p = state.areas.points;
      q.push("areas=" + encodeURIComponent([...state.areaStrength].map(
        ([a, v]) => `${p[2 * a - 2]},${p[2 * a - 1]}=${v.toFixed(2)}`).join(";")));
    }
    const st = q.join("&");
    $("dl-jpeg").href = `${dl.jpeg}?ev=${ev}${st ? "&" + st : ""}`;
    $("dl-exr").href = `${dl.exr}${st ? "?" + st : ""}`;
    $("dl-mp4").href = `${dl.mp4}${st ? "?" + st : ""}`;
    if (dl.ultrahdr) $("dl-uhdr").href = `${dl.ultrahdr}${st ? "?" + st : ""}`;
  }

  // The strength slider: the label follows at once; the preview is recomputed (the values that
  // depend on the strength only: a power each, their pixels' histogram, the renderer's decode of
  // them: about 0.09 s in Chromium for a 1920x1080 preview with a quarter of its values in
  // highlights, docs/benchmarks.md) 120 ms after the last move or on release, then drawn and the
  // downloads updated.
  function setStrength(v, now) {
    state.strength = Math.max(0, Math.min(3, Number(v)));
    $("strength-value").textContent = `${state.strength.toFixed(2)}×`;
    schedule(now);
  }

  // Recompute the preview for the strengths now set (global and per area), at once or 120 ms
  // after the last call.
  function schedule(now) {
    clearTimeout(state.strengthTimer);
    const apply = () => {
      const own = ownStrengths();
      if (!state.base || (state.data && state.data.key === strengthKey(state.strength, own))) return;
      const d = withStrength(state.base, state.strength, own);
      d.hist = buildHistograms(d);
      state.data = d;
      state.renderer.setData(d);
      updateDownloads();
      requestRender();
    };
    if (now) apply(); else state.strengthTimer = setTimeout(apply, 120);
  }

  // ------------------------------------------------------------------ controls
  function setEV(v) {
    state.ev = Math.max(-4, Math.min(4, Number(v)));
    const s = state.ev >= 0 ? "+" : "−";
    $("ev-value").textContent = `${s}${Math.abs(state.ev).toFixed(2)} EV`;
    requestRender();
  }

  // CSS size of the canvas: the preview's aspect ratio, as large as the page allows.
  function layoutCanvas() {
    const d = state.data;
    if (!d) return;
    const c = $("canvas");
    const availW = Math.max(100, $("viewer").clientWidth), availH = Math.max(100, window.innerHeight * 0.68);
    const s = Math.min(availW / d.w, availH / d.h);
    state.css = { w: Math.floor(d.w * s), h: Math.floor(d.h * s) };  // cached: no layout per frame
    c.style.width = `${state.css.w}px`;
    c.style.height = `${state.css.h}px`;
    drawAreaOverlay();
  }

  function positionDivider() {
    const c = $("canvas"), div = $("divider");
    div.style.left = `${c.offsetLeft + state.split * c.offsetWidth}px`;
    div.style.top = `${c.offsetTop}px`;
    div.style.height = `${c.offsetHeight}px`;
    div.setAttribute("aria-valuenow", String(Math.round(state.split * 100)));
  }

  function setSplit(x) {
    state.split = Math.max(0, Math.min(1, x));
    positionDivider();
    requestRender();
  }

  function wireControls() {
    $("ev").addEventListener("input", (e) => setEV(e.target.value));
    $("ev").addEventListener("change", updateDownloads);  // on release: no DOM churn while sliding
    $("dl-jpeg").addEventListener("click", updateDownloads);
    $("ev-reset").addEventListener("click", () => { $("ev").value = "0"; setEV(0); updateDownloads(); });
    $("strength").addEventListener("input", (e) => setStrength(e.target.value, false));
    $("strength").addEventListener("change", (e) => setStrength(e.target.value, true));
    $("strength-reset").addEventListener("click", () => { $("strength").value = "1"; setStrength(1, true); });
    $("outline").addEventListener("change", (e) => { state.outline = e.target.checked; requestRender(); });
    $("area-pick").addEventListener("click", () => setPicking(!state.picking));
    $("area-strength").addEventListener("input", (e) => setAreaStrength(e.target.value, false));
    $("area-strength").addEventListener("change", (e) => setAreaStrength(e.target.value, true));
    $("area-reset").addEventListener("click", () => {
      state.areaStrength.clear(); state.selected = 0;
      $("area-controls").hidden = true; $("area-info").textContent = "";
      drawAreaOverlay();
      schedule(true);
    });
    const stage = $("stage");
    let dragging = false;
    const fromEvent = (e) => {
      const r = $("canvas").getBoundingClientRect();
      setSplit((e.clientX - r.left) / r.width);
    };
    stage.addEventListener("pointerdown", (e) => {
      if (state.picking && state.areas && !$("divider").contains(e.target)) { pickArea(e); e.preventDefault(); return; }
      dragging = true; stage.setPointerCapture(e.pointerId); fromEvent(e); e.preventDefault();
    });
    stage.addEventListener("pointermove", (e) => { if (dragging) fromEvent(e); });
    const stop = () => { dragging = false; };
    stage.addEventListener("pointerup", stop);
    stage.addEventListener("pointercancel", stop);
    $("divider").addEventListener("keydown", (e) => {
      if (e.key === "ArrowLeft") { setSplit(state.split - 0.02); e.preventDefault(); }
      if (e.key === "ArrowRight") { setSplit(state.split + 0.02); e.preventDefault(); }
    });
    window.addEventListener("resize", () => { layoutCanvas(); positionDivider(); requestRender(); });

    const input = $("file");
    input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); input.value = ""; });
    const zone = $("dropzone");
    ["dragenter", "dragover"].forEach((t) => document.addEventListener(t, (e) => {
      e.preventDefault(); zone.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((t) => document.addEventListener(t, (e) => {
      e.preventDefault(); zone.classList.remove("over");
    }));
    document.addEventListener("drop", (e) => {
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f && !$("file").disabled) upload(f);
    });
    zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { input.click(); e.preventDefault(); } });
    $("another").addEventListener("click", () => {
      if (state.job) fetch(`/api/jobs/${state.job.id}`, { method: "DELETE" }).catch(() => {});
      state.job = null; state.data = null;
      resetAreas();
      $("viewer").hidden = true; $("intake").hidden = false; showMessage("");
    });
  }

  // ------------------------------------------------------------------ benchmark hook
  // Sweeps the slider programmatically (one input event per animation frame, EV -4..+4 and back)
  // and reports the rate at which frames were actually rendered. With sync: true every frame also
  // waits for the GPU (a 1-pixel readPixels), so a slow GPU cannot hide behind the queue.
  function benchmark({ seconds = 3, sync = false } = {}) {
    return new Promise((resolve) => {
      const slider = $("ev");
      const intervals = [];
      let t0 = null, last = null, frames0 = state.frames, drawMs = 0;
      const origDraw = state.renderer.draw;
      state.renderer.draw = (p) => {
        const a = performance.now();
        origDraw.call(state.renderer, p);
        if (sync) state.renderer.sync();
        drawMs += performance.now() - a;
      };
      function step(t) {
        if (t0 === null) { t0 = t; frames0 = state.frames; }
        if (last !== null) intervals.push(t - last);
        last = t;
        const el = (t - t0) / 1000;
        if (el >= seconds) {
          state.renderer.draw = origDraw;
          const frames = state.frames - frames0;
          intervals.sort((a, b) => a - b);
          resolve({
            renderer: state.renderer.name, width: state.data.w, height: state.data.h, sync,
            seconds: el, frames, fps: frames / el,
            frame_ms_median: intervals[Math.floor(intervals.length / 2)],
            frame_ms_p95: intervals[Math.floor(intervals.length * 0.95)],
            draw_ms_mean: drawMs / Math.max(1, frames),
          });
          return;
        }
        const phase = (el / 2) % 2;  // 2 s from -4 to +4, 2 s back
        const ev = phase < 1 ? -4 + 8 * phase : 4 - 8 * (phase - 1);
        slider.value = ev.toFixed(2);
        slider.dispatchEvent(new Event("input", { bubbles: true }));
        requestAnimationFrame(step);
      }
      requestAnimationFrame(step);
    });
  }

  // ------------------------------------------------------------------ start
  // A canvas keeps the first kind of context it gave out: switching renderers needs a new one.
  function freshCanvas() {
    const old = $("canvas"), fresh = old.cloneNode(false);
    old.replaceWith(fresh);
    return fresh;
  }

  // WebGL2 unless it only runs in software (SwiftShader, llvmpipe: no GPU), where the 2D canvas
  // path is faster (measured: docs/benchmarks.md, "Web"). ?renderer=webgl or ?renderer=canvas
  // force one.
  function pickRenderer(want) {
    let r = want === "canvas" ? null : makeWebGL($("canvas")), note = "";
    if (r && want !== "webgl" && r.software) {
      note = ` (WebGL2 runs in software here: ${r.software})`;
      const lose = r.gl.getExtension("WEBGL_lose_context");
      if (lose) lose.loseContext();
      r = null;
    }
    state.renderer = r || makeCanvas2D(freshCanvas());
    $("renderer-name").textContent = `renderer: ${state.renderer.name}${note}`;
  }
  async function init() {
    wireControls();
    pickRenderer(params.get("renderer"));
    try {
      state.config = await (await fetch("/api/config")).json();
    } catch (e) {
      showMessage(`Cannot reach the server: ${e.message}`);
      return;
    }
    const cfg = state.config;
    configuredResolve(cfg);
    $("limits").textContent = `up to ${fmtBytes(cfg.max_upload_bytes)} and ${(cfg.max_pixels / 1e6).toFixed(0)} megapixels`;
    const box = $("samples");
    for (const s of cfg.samples) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "sample"; b.dataset.sample = s.name; b.title = s.name;
      b.setAttribute("role", "listitem");
      const img = document.createElement("img");
      img.src = s.thumb; img.alt = s.name.replace(/_/g, " ");
      const cap = document.createElement("span");
      cap.textContent = s.name.replace(/_/g, " ");
      b.append(img, cap);
      b.addEventListener("click", () => pickSample(s.name));
      box.append(b);
    }
    $("samples-box").hidden = cfg.samples.length === 0;
  }

  window.reexpose = { state, ready: ready.promise, configured, benchmark,
    setEV: (v) => { $("ev").value = String(v); setEV(v); updateDownloads(); },
    setStrength: (v) => { $("strength").value = String(v); setStrength(v, true); },
    // for tests: the current preview decoded, counted and drawn from scratch (no reuse of its base)
    redrawFromScratch: () => {
      const d = state.data;
      const f = { w: d.w, h: d.h, scale: d.scale, naive16: d.naive16, delta16: d.delta16, gdelta16: d.delta16,
        mask: d.mask, strength: d.strength };
      f.hist = buildHistograms(f);
      state.data = f;
      state.renderer.setData(f);
      renderNow();
      return f.hist;
    },
    setSplit, renderNow, parsePreview };
  document.addEventListener("DOMContentLoaded", init);
})();
