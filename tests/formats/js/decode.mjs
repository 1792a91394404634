// Independent decoder for gain-map JPEGs, used by tests/test_ultrahdr.py.
//
//   node decode.mjs IN.jpg OUT_PREFIX
//
// @monogrid/gainmap-js (extractGainmapFromJPEG) finds the gain map through the MPF index and parses
// the hdrgm XMP metadata; jpeg-js (a pure JavaScript JPEG decoder) decodes both images; the HDR
// rendition is then computed at full weight with the formula of the Adobe gain map specification,
// the way gainmap-js's WebGL decoder does it (sRGB-decoded base, gain map sampled bilinearly with
// centre-aligned texels, recovery ** (1 / gamma), log-space lerp, exp2, offsets).
// Writes OUT_PREFIX.json (metadata and sizes), OUT_PREFIX.f32 (the HDR rendition, H x W x 3 float32,
// little endian), and the decoded pixels: OUT_PREFIX.base.u8 (H x W x 3) and OUT_PREFIX.gain.u8
// (h x w x 3; a grayscale map comes out with R = G = B).
import { readFileSync, writeFileSync } from 'node:fs'
import { extractGainmapFromJPEG } from '@monogrid/gainmap-js'
import jpeg from 'jpeg-js'

const [, , input, prefix] = process.argv
if (!input || !prefix) {
  console.error('usage: node decode.mjs IN.jpg OUT_PREFIX')
  process.exit(2)
}

const file = new Uint8Array(readFileSync(input)) // a fresh buffer: the MPF reader uses .buffer
const { sdr, gainMap, metadata } = await extractGainmapFromJPEG(file)
const base = jpeg.decode(sdr, { useTArray: true, formatAsRGBA: true })
const gain = jpeg.decode(gainMap, { useTArray: true, formatAsRGBA: true })

const srgbToLinear = (c) => (c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4))

// bilinear sample of channel ch of the gain map at base pixel (x, y), normalised to [0, 1]
function sampleGain (x, y, ch) {
  const gx = Math.min(Math.max((x + 0.5) * gain.width / base.width - 0.5, 0), gain.width - 1)
  const gy = Math.min(Math.max((y + 0.5) * gain.height / base.height - 0.5, 0), gain.height - 1)
  const x0 = Math.floor(gx)
  const y0 = Math.floor(gy)
  const x1 = Math.min(x0 + 1, gain.width - 1)
  const y1 = Math.min(y0 + 1, gain.height - 1)
  const fx = gx - x0
  const fy = gy - y0
  const at = (xx, yy) => gain.data[(yy * gain.width + xx) * 4 + ch] / 255
  const top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx
  const bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx
  return top * (1 - fy) + bottom * fy
}

const out = new Float32Array(base.width * base.height * 3)
for (let y = 0; y < base.height; y++) {
  for (let x = 0; x < base.width; x++) {
    for (let c = 0; c < 3; c++) {
      const sdrLin = srgbToLinear(base.data[(y * base.width + x) * 4 + c] / 255)
      const recovery = sampleGain(x, y, c) // a grayscale map decodes with R = G = B
      const logRecovery = Math.pow(recovery, 1 / metadata.gamma[c])
      const logBoost = metadata.gainMapMin[c] * (1 - logRecovery) + metadata.gainMapMax[c] * logRecovery
      out[(y * base.width + x) * 3 + c] =
        (sdrLin + metadata.offsetSdr[c]) * Math.pow(2, logBoost) - metadata.offsetHdr[c]
    }
  }
}

const rgb = (img) => {
  const px = new Uint8Array(img.width * img.height * 3)
  for (let i = 0; i < img.width * img.height; i++) {
    for (let c = 0; c < 3; c++) px[i * 3 + c] = img.data[i * 4 + c]
  }
  return px
}
writeFileSync(`${prefix}.f32`, Buffer.from(out.buffer))
writeFileSync(`${prefix}.base.u8`, rgb(base))
writeFileSync(`${prefix}.gain.u8`, rgb(gain))
writeFileSync(`${prefix}.json`, JSON.stringify({
  metadata,
  width: base.width,
  height: base.height,
  gainMapWidth: gain.width,
  gainMapHeight: gain.height,
  sdrBytes: sdr.length,
  gainMapBytes: gainMap.length
}))
