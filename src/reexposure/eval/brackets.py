"""``reexpose eval --brackets DIR``: highlight reconstruction scored against real exposure brackets.

Each bracket set is a folder with an ``info.json`` (as in ``../shared/data/brackets``): ``frames``
with their relative exposure ``ev_rel``, and ``highlight_test``: for every frame with >= 1% clipped
pixels (``bright_frame``), the frame ``darker_2to3ev`` taken ``ev_diff`` stops darker (or null). For
EVERY ``highlight_test`` entry with a darker frame, the bright frame is the input and the darker
frame the reference:

1. Both frames are read with :func:`reexposure.formats.io.read_photo` and brought to one size: the smaller
   of the two frames' sizes, then at most ``--max-side`` (default 1600) on the long side (Pillow,
   Lanczos; a frame already at that size is left as it is).
2. Both are linearised with one inverse camera curve (``--crf``; default the package's square law,
   ``camera.DEFAULT_CRF``), the model's input as at inference; the darker frame is multiplied by
   ``2**ev_diff``, which puts it in the bright frame's units (relative radiance, 1.0 = the bright
   frame's clip level). ``naive`` is the linearised bright frame; ``ours`` the model's
   reconstruction of it (:class:`reexposure.core.infer.Reconstructor`).
3. Measures, inside the bright frame's clipped pixels (any channel at code >= 254):

   - **colour** (degrees): per pixel, the angle between the reconstructed linear RGB and the darker
     frame's, where the darker frame is itself unclipped (all channels < 250); ``colour_median`` and
     ``colour_mean`` over those pixels. Angles do not depend on scale, so an error in ``ev_diff`` or
     in the curve's exposure does not enter.
   - **spearman**: Spearman rank correlation of luminance (Rec. 709 weights on linear RGB) between the
     reconstruction and the darker frame over the same pixels (``scipy.stats.spearmanr``, ties get
     average ranks). Does the reconstruction put the bright parts where they are? A prediction that
     is constant over those pixels carries no rank information and scores 0 (naive is constant in
     fully clipped pixels, but not on the partly clipped rim: a pixel with one or two channels
     clipped is dimmer than one with three, so naive's ties still rank the brightest pixels last).
     ``spearman_full``: the same over the pixels clipped in ALL channels only, where the photo holds no
     brightness information at all (naive: near 0; only codes 254 and 255 still differ there).
   - **lights** (share, 0..1): of the clipped pixels that are STILL clipped in the darker frame (any
     channel >= 254 there, so truly at least ``2**ev_diff`` times the clip level), the share that the
     method predicts at least half that bright: largest channel of the reconstruction
     ``>= 0.5 * 2**ev_diff``. Naive, capped at 1.0, scores 0 whenever ``ev_diff > 1``. NaN when no
     pixel is still clipped.
   - **too bright** (share, 0..1): the opposite error, bright surfaces taken for lights. Of the
     colour pixels (the darker frame unclipped, so their brightness is known), the share the method
     puts at least ``TOO_BRIGHT`` = 2 times as bright as the darker frame says (largest channel of
     each). A ratio, because the darker frame's absolute level depends on the camera's real curve
     (the square law puts oldhouse's barely clipped wall at 1.5-3x); a global error in that level
     enters it, a blotch does not hide in it. Naive (at most 1.0 where the reference is at least
     about 1) scores 0; lower is better.
   - **render error** (codes, 0..255): what a user sees. The reconstruction made ``ev_diff`` stops
     darker and rendered through the same curve (8-bit codes, not rounded), against the darker
     frame itself: mean absolute difference over the colour pixels and channels. The one measure
     that compares curves too (``--crf``: every other measure reads the darker frame through the
     curve under test, this one does not); a global error in ``ev_diff`` enters it. Lower is better.
   - ``brightness_ratio``: median over the colour pixels of the reconstruction's luminance over the
     darker frame's (1 = right on average; naive is below 1), for context.
   - ``levels``: median luminance of the truth and of each method, grouped by how many channels of
     the bright frame clipped (0 = the unclipped ring at codes 230-253; darker frame unclipped):
     does the reconstruction rise from the ring into a clipped area as the truth does, or jump at
     the edge between partly and fully clipped pixels (a sky's band, a wall's blotches)?
     :func:`levels_by_clipped_channels`.

Per set, the entries are averaged with equal weight (NaNs left out). Outputs in ``--out``:
``summary.json`` (every number per entry) and ``summary.md``.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core import camera
from ..core.camera import CRF
from ..core.infer import Reconstructor
from ..formats.io import read_photo
from .photos import check_out, finite_mean
from .run import EvalError, _jsonable, _write

__all__ = ["CLIP_CODE", "REF_MAX_CODE", "LUMA", "BracketEvalOptions", "find_sets", "load_pair", "bracket_frames",
           "reference_radiance", "bracket_scores", "levels_by_clipped_channels", "spearman", "run_brackets",
           "set_line"]

CLIP_CODE = 254
REF_MAX_CODE = 250  # the darker frame counts as unclipped below this code in every channel
LUMA = np.array([0.2126, 0.7152, 0.0722])
LIGHT_FRACTION = 0.5  # "lights": predicted at least this fraction of 2**ev_diff
TOO_BRIGHT = 2.0  # "too bright": predicted at least this many times the darker frame's brightness
MAX_SIDE = 1600
METHODS = ("ours", "naive")


def _angles(px: np.ndarray, ref: np.ndarray) -> np.ndarray:
    px, ref = px.astype(np.float64), ref.astype(np.float64)
    n = np.linalg.norm(px, axis=-1) * np.linalg.norm(ref, axis=-1) + 1e-12
    return np.degrees(np.arccos(np.clip((px * ref).sum(-1) / n, -1, 1)))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); 0 when either side is constant (no rank
    information), NaN with fewer than 3 pixels."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size < 3:
        return float("nan")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = spearmanr(a, b)
    return float(getattr(r, "statistic", r[0]))


def reference_radiance(dark: np.ndarray, ev_diff: float, crf: CRF = camera.DEFAULT_CRF) -> np.ndarray:
    """The darker frame (HxWx3 uint8) in the bright frame's units: linearised with ``crf`` and
    multiplied by ``2**ev_diff`` (relative radiance, 1.0 = the bright frame's clip level), float64."""
    return crf.inverse(torch.from_numpy(dark.astype(np.float32) / 255.0)).numpy().astype(np.float64) * 2.0 ** ev_diff


def bracket_scores(bright: np.ndarray, dark: np.ndarray, ev_diff: float, preds: dict[str, np.ndarray],
                   crf: CRF = camera.DEFAULT_CRF) -> dict[str, Any]:
    """The measures of one pair (module docstring). ``bright``/``dark``: HxWx3 uint8 of one size;
    ``preds[label]``: HxWx3 float relative radiance of ``bright`` (1.0 = its clip level). Returns
    pixel counts and ``{measure: {label: value}}``."""
    if bright.shape != dark.shape:
        raise ValueError(f"frames differ in size: {bright.shape} and {dark.shape}")
    clipped = np.any(bright >= CLIP_CODE, -1)
    valid = clipped & np.all(dark < REF_MAX_CODE, -1)
    full = np.all(bright >= CLIP_CODE, -1)[valid]  # among the reference pixels: clipped in every channel
    still = clipped & np.any(dark >= CLIP_CODE, -1)
    gain = 2.0 ** float(ev_diff)
    ref = reference_radiance(dark, ev_diff, crf)
    ref_v = ref[valid]
    ref_lum = ref_v @ LUMA
    res: dict[str, Any] = {"ev_diff": float(ev_diff), "clipped_share": float(clipped.mean()),
                           "n_clipped": int(clipped.sum()), "n_reference": int(valid.sum()),
                           "n_still_clipped": int(still.sum()), "light_threshold": LIGHT_FRACTION * gain,
                           "n_reference_full": int(full.sum()), "colour_median": {}, "colour_mean": {},
                           "spearman": {}, "spearman_full": {}, "lights": {}, "too_bright": {},
                           "render_error": {}, "brightness_ratio": {}}
    dark_v = dark[valid].astype(np.float64)

    for label, pred in preds.items():
        p = np.asarray(pred, dtype=np.float64)
        pv = p[valid]
        if pv.shape[0]:
            ang = _angles(pv, ref_v)
            res["colour_median"][label] = float(np.median(ang))
            res["colour_mean"][label] = float(ang.mean())
            lum = pv @ LUMA
            res["spearman"][label] = spearman(lum, ref_lum)
            res["spearman_full"][label] = spearman(lum[full], ref_lum[full])
            res["brightness_ratio"][label] = float(np.median(lum / np.maximum(ref_lum, 1e-12)))
            res["too_bright"][label] = float((pv.max(-1) >= TOO_BRIGHT * ref_v.max(-1)).mean())
            darker = np.asarray(camera.render_ldr(pv.astype(np.float32), -float(ev_diff), crf, None))
            res["render_error"][label] = float(np.abs(darker * 255.0 - dark_v).mean())
        else:
            for k in MEASURES:  # all but lights (below) need reference pixels
                if k != "lights":
                    res[k][label] = float("nan")
        res["lights"][label] = (float((p[still].max(-1) >= LIGHT_FRACTION * gain).mean()) if still.any()
                                else float("nan"))
    return res


def levels_by_clipped_channels(bright: np.ndarray, dark: np.ndarray, ev_diff: float, preds: dict[str, np.ndarray],
                               crf: CRF = camera.DEFAULT_CRF, ring_code: int = 230) -> list[dict[str, Any]]:
    """How bright the truth and each method are, grouped by how many channels of the bright frame
    clipped: does the reconstruction rise from the unclipped surroundings into a clipped area the
    way the darker frame does? Groups 0-3: 0 = unclipped pixels whose largest channel is at least
    ``ring_code`` (the bright ring around clipped areas), 1-3 = pixels with that many channels at
    ``CLIP_CODE`` or above. Only pixels where the darker frame is unclipped (all channels below
    ``REF_MAX_CODE``). Arguments as for :func:`bracket_scores`. Returns one dict per group:
    ``channels``, ``pixels``, ``truth`` (median luminance of the darker frame x ``2**ev_diff``,
    relative radiance of the bright frame) and ``{label: median luminance}``; NaN medians for an
    empty group."""
    n = (bright >= CLIP_CODE).sum(-1)
    valid = np.all(dark < REF_MAX_CODE, -1)
    ref = reference_radiance(dark, ev_diff, crf)
    out = []
    for g in range(4):
        sel = valid & (n == g) & ((bright.max(-1) >= ring_code) if g == 0 else True)
        row: dict[str, Any] = {"channels": g, "pixels": int(sel.sum()),
                               "truth": float(np.median(ref[sel] @ LUMA)) if sel.any() else float("nan")}
        for label, pred in preds.items():
            p = np.asarray(pred, dtype=np.float64)[sel]
            row[label] = float(np.median(p @ LUMA)) if sel.any() else float("nan")
        out.append(row)
    return out


# --------------------------------------------------------------------------- data


#: A scored pair's frames count as misaligned when info.json's shift search between any two
#: neighbouring frames from the darker to the bright one found a shift; as "large residuals" when
#: more than this share of pixels stays off the fitted brightness transfer (motion, noise, local
#: tone mapping, or glare that only the longer exposure shows).
OUTLIER_LIMIT = 0.25


def pair_alignment(info: dict[str, Any], bright: str, dark: str) -> dict[str, Any] | None:
    """What ``info.json`` measured between the frames of one scored pair: its
    ``pairs_dark_to_bright`` entries are neighbouring frames, so the chain from ``dark`` to
    ``bright`` is followed through them. Returns ``{"shift_px": [dy, dx] summed over the chain,
    "outliers": largest outlier share after the tone-curve fit, "links": chain length, "verdict"}``
    with verdict ``aligned``, ``MISALIGNED`` (a shift) or ``large residuals`` (outliers above
    :data:`OUTLIER_LIMIT`); ``None`` when the chain is not in ``info``."""
    step = {str(p.get("darker")): p for p in info.get("pairs_dark_to_bright") or [] if isinstance(p, dict)}
    shift, worst, links, frame = [0, 0], 0.0, 0, dark
    while frame != bright:
        p = step.get(frame)
        if p is None or links > len(step):
            return None
        sy, sx = (list(p.get("best_shift_px_fullres") or [0, 0]) + [0, 0])[:2]
        shift = [shift[0] + int(sy), shift[1] + int(sx)]
        worst = max(worst, float(p.get("outlier_frac_after_tonecurve_fit") or 0.0))
        links += 1
        frame = str(p.get("brighter"))
    verdict = "MISALIGNED" if shift != [0, 0] else "large residuals" if worst > OUTLIER_LIMIT else "aligned"
    return {"shift_px": shift, "outliers": worst, "links": links, "verdict": verdict}


def find_sets(root: str | Path) -> list[Path]:
    """Bracket set folders: ``root`` itself when it has an ``info.json``, else its sub-folders that
    have one (sorted)."""
    root = Path(root)
    if (root / "info.json").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "info.json").is_file())


def load_pair(bright_path: str | Path, dark_path: str | Path,
              max_side: int | None = MAX_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as HxWx3 uint8 of one size: the smaller frame's size, capped at ``max_side``
    (Pillow Lanczos). Raises ``EvalError`` when their aspect ratios differ by more than 2%."""
    from PIL import Image

    a, b = read_photo(Path(bright_path)).rgb8, read_photo(Path(dark_path)).rgb8
    (ha, wa), (hb, wb) = a.shape[:2], b.shape[:2]
    if abs(wa / ha - wb / hb) > 0.02 * (wa / ha):
        raise EvalError(f"{Path(bright_path).name} ({wa}x{ha}) and {Path(dark_path).name} ({wb}x{hb}) differ in "
                        "aspect ratio")
    w, h = (wa, ha) if wa * ha <= wb * hb else (wb, hb)
    if max_side and max(w, h) > max_side:
        f = max_side / max(w, h)
        w, h = max(2, round(w * f)), max(2, round(h * f))

    def fit(u8: np.ndarray) -> np.ndarray:
        if u8.shape[:2] == (h, w):
            return u8
        return np.array(Image.fromarray(u8).resize((w, h), Image.Resampling.LANCZOS), dtype=np.uint8)

    return fit(a), fit(b)


def bracket_frames(root: str | Path, max_side: int | None = MAX_SIDE,
                   sets: Sequence[str] = ()) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """Every scored pair of the bracket sets under ``root`` (each ``highlight_test`` entry with a
    frame 2-3 EV darker; only the sets named in ``sets``, when given), frames as
    ``reexpose eval --brackets`` loads them (:func:`load_pair`): ``[("set/bright frame", bright,
    dark, ev_diff), ...]`` (HxWx3 uint8)."""
    rows = []
    for d in find_sets(root):
        if sets and d.name not in sets:
            continue
        info = json.loads((d / "info.json").read_text())
        for t in info.get("highlight_test", []):
            if not t.get("darker_2to3ev"):
                continue
            bright, dark = load_pair(d / t["bright_frame"], d / t["darker_2to3ev"], max_side)
            rows.append((f"{d.name}/{t['bright_frame']}", bright, dark, float(t["ev_diff"])))
    return rows


# --------------------------------------------------------------------------- run


@dataclass
class BracketEvalOptions:
    """``reexpose eval --brackets``: what one run needs."""

    brackets: Path
    out: Path
    model: str | None = None
    max_side: int | None = MAX_SIDE
    threads: int | None = None
    limit: int | None = None
    force: bool = False
    progress: bool = True
    crf: str = "sqrt"  # the inverse curve both frames are read with (camera.crf_from_name)
    model_object: Any = field(default=None, repr=False)  # a GatedUNet in memory (tests, API)

    def command(self) -> str:
        parts = ["reexpose", "eval", "--brackets", str(self.brackets)]
        if self.model:
            parts += ["--model", str(self.model)]
        if self.crf != "sqrt":
            parts += ["--crf", self.crf]
        if self.max_side != MAX_SIDE:
            parts += ["--max-side", str(self.max_side)]
        if self.limit:
            parts += ["--limit", str(self.limit)]
        return " ".join(parts + ["--out", str(self.out)])


MEASURES = ("colour_median", "colour_mean", "spearman", "spearman_full", "lights", "too_bright",
            "render_error", "brightness_ratio")


def _aggregate(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    scored = [e for e in entries if "skipped" not in e]
    out: dict[str, Any] = {"entries": len(scored)}
    for k in MEASURES:
        out[k] = {m: finite_mean([e[k][m] for e in scored]) for m in METHODS}
    out["clipped_share"] = finite_mean([e["clipped_share"] for e in scored])
    out["n_still_clipped"] = sum(e["n_still_clipped"] for e in scored)
    return out


def _f(x: Any, spec: str = ".2f") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def set_line(name: str, agg: dict[str, Any], flag: str = "") -> str:
    """One line per set (means over its entries)."""
    if not agg["entries"]:
        return f"{name:28s} no entry with a darker frame"
    c, cm, s, sf, li, tb, re = (agg[k] for k in ("colour_median", "colour_mean", "spearman", "spearman_full",
                                                 "lights", "too_bright", "render_error"))
    return (f"{name:28s} pairs {agg['entries']}  clipped {100 * agg['clipped_share']:5.2f}%  colour median ours "
            f"{_f(c['ours']):>5s} naive {_f(c['naive']):>5s} deg (mean {_f(cm['ours'])} / {_f(cm['naive'])})  "
            f"spearman ours {_f(s['ours'], '.3f')} naive {_f(s['naive'], '.3f')} (all-channel clipped: "
            f"{_f(sf['ours'], '.3f')} / {_f(sf['naive'], '.3f')})  lights ours {_f(li['ours'], '.3f')} "
            f"naive {_f(li['naive'], '.3f')} ({agg['n_still_clipped']} px)  too bright ours "
            f"{_f(tb['ours'], '.3f')}  render error ours {_f(re['ours'], '.1f')} naive {_f(re['naive'], '.1f')} "
            f"codes{flag}")


def _markdown(opts: BracketEvalOptions, sets: dict[str, Any], total: dict[str, Any], info: dict[str, Any],
              seconds: float) -> str:
    lines = ["# Highlight reconstruction against real exposure brackets", "",
             f"- Command: `{opts.command()}`",
             f"- Model: {info.get('path', '?')}",
             f"- {len(sets)} sets from {opts.brackets}; every `highlight_test` entry with a darker frame; frames "
             f"at the smaller frame's size, long side <= {opts.max_side} px; wall time {seconds:.0f} s",
             "- In the bright frame's clipped pixels (any channel >= 254): colour = angle (deg) between the "
             "reconstruction and the darker frame (x 2^ev_diff, both linearised with "
             f"`{opts.crf}`) where that frame is "
             "unclipped (all channels < 250), median and mean; spearman = rank correlation of luminance there "
             "(spearman full: only where all three channels are clipped); "
             "lights = of the pixels still clipped in the darker frame, the share predicted at >= 0.5 x 2^ev_diff "
             f"(largest channel, relative radiance); too bright = of the colour pixels, the share predicted at >= "
             f"{TOO_BRIGHT:g}x the darker frame's brightness (largest channel; naive: 0); render error = the "
             "reconstruction made ev_diff darker and rendered through the same curve, against the darker frame: "
             "mean absolute difference in codes over the colour pixels; "
             "ratio = median predicted / reference luminance. "
             "Definitions: `reexposure.eval.brackets`.",
             "", "| set | bright | darker | ev diff | clipped % | ref px | colour med ours | naive | colour mean ours "
             "| naive | spearman ours | naive | spearman full ours | naive | lights ours | naive | still clipped px "
             "| too bright ours | render error ours | naive | ratio ours | naive |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, st in sets.items():
        for e in st["entries"]:
            if "skipped" in e:
                lines.append(f"| {name} | {e['bright_frame']} | – | | | | skipped: {e['skipped']} "
                             "| | | | | | | | | | | | | | | |")
                continue
            lines.append(
                f"| {name} | {e['bright_frame']} | {e['darker_frame']} | {e['ev_diff']:.2f} "
                f"| {100 * e['clipped_share']:.2f} | {e['n_reference']} "
                f"| {_f(e['colour_median']['ours'])} | {_f(e['colour_median']['naive'])} "
                f"| {_f(e['colour_mean']['ours'])} | {_f(e['colour_mean']['naive'])} "
                f"| {_f(e['spearman']['ours'], '.3f')} | {_f(e['spearman']['naive'], '.3f')} "
                f"| {_f(e['spearman_full']['ours'], '.3f')} | {_f(e['spearman_full']['naive'], '.3f')} "
                f"| {_f(e['lights']['ours'], '.3f')} | {_f(e['lights']['naive'], '.3f')} | {e['n_still_clipped']} "
                f"| {_f(e['too_bright']['ours'], '.3f')} | {_f(e['render_error']['ours'], '.1f')} "
                f"| {_f(e['render_error']['naive'], '.1f')} | {_f(e['brightness_ratio']['ours'], '.3f')} "
                f"| {_f(e['brightness_ratio']['naive'], '.3f')} |")
    lines += ["", "## Per set (mean over its pairs)", "", "```"]
    lines += [set_line(n, st["means"], st.get("flag", "")) for n, st in sets.items()]
    lines += [set_line("ALL (mean over pairs)", total), "```", ""]
    lines += ["## Brightness by clipped channels", "",
              "Median luminance (x the bright frame's clip level) in the pixels with 0 (the unclipped ring at codes "
              "230-253), 1, 2 and 3 clipped channels, where the darker frame is unclipped.", "",
              "| set | bright | truth 0 / 1 / 2 / 3 | ours | naive |", "|---|---|---|---|---|"]
    for name, st in sets.items():
        for e in st["entries"]:
            if "levels" in e:
                cols = [" / ".join(_f(g[k]) for g in e["levels"]) for k in ("truth", "ours", "naive")]
                lines.append(f"| {name} | {e['bright_frame']} | " + " | ".join(cols) + " |")
    lines.append("")

    def pair_note(e: dict[str, Any]) -> str:
        a = e.get("alignment")
        if not a:
            return f"{e['bright_frame']}: not measured"
        return (f"{e['bright_frame']} vs {e['darker_frame']}: {a['verdict']} (shift {a['shift_px'][0]}, "
                f"{a['shift_px'][1]} px; {100 * a['outliers']:.0f}% outliers after the tone-curve fit)")

    notes = [f"- {n}: set verdict '{st['alignment']}'; " + "; ".join(pair_note(e) for e in st["entries"]
                                                                   if "colour_median" in e)
             for n, st in sets.items() if st.get("flag") or st["alignment"] != "aligned"]
    if notes:
        lines += ["Alignment from info.json (colour and spearman are pixelwise, so motion lowers them; the "
                  f"set verdict may concern pairs that are not scored; large residuals = more than "
                  f"{100 * OUTLIER_LIMIT:.0f}% of pixels off the fitted brightness transfer):", ""] + notes + [""]
    return "\n".join(lines)


def run_brackets(opts: BracketEvalOptions, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every bracket set of ``opts.brackets`` (module docstring); writes ``summary.json`` and
    ``summary.md`` in ``opts.out`` and returns the summary dict. ``echo`` gets one line per set."""
    from tqdm import tqdm

    root = Path(opts.brackets)
    if not root.is_dir():
        raise EvalError(f"bracket folder {root} does not exist or is not a folder")
    if opts.max_side is not None and opts.max_side < 16:
        raise EvalError(f"--max-side must be at least 16, got {opts.max_side}")
    set_dirs = find_sets(root)
    if opts.limit:
        set_dirs = set_dirs[: opts.limit]
    if not set_dirs:
        raise EvalError(f"no bracket set (a folder with info.json) in {root}")
    plans: list[tuple[Path, dict[str, Any], list[dict[str, Any]]]] = []
    for d in set_dirs:
        try:
            info = json.loads((d / "info.json").read_text())
            tests = list(info.get("highlight_test") or [])
        except (OSError, ValueError, AttributeError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else exc
            raise EvalError(f"{d / 'info.json'}: cannot read ({why})") from None
        plans.append((d, info, tests))
    crf = camera.crf_from_name(opts.crf)  # ValueError: one line from the CLI
    check_out(opts.out, root, opts.force, ["summary.json", "summary.md"])
    rec = Reconstructor(opts.model_object if opts.model_object is not None else opts.model, crf=crf,
                        threads=opts.threads)
    minfo = {k: str(v) for k, v in rec.info.items() if k != "config" and len(str(v)) < 300}
    say = echo or (lambda s: None)
    start = time.time()
    n_pairs = sum(1 for _, _, t in plans for e in t if e.get("darker_2to3ev"))
    bar = tqdm(total=n_pairs, desc="brackets", unit="pair", disable=not opts.progress, file=sys.stderr)
    sets: dict[str, Any] = {}
    all_entries: list[dict[str, Any]] = []
    for d, info, tests in plans:
        name = str(info.get("set_name") or d.name)
        verdict = str((info.get("alignment") or {}).get("verdict", "?"))
        entries: list[dict[str, Any]] = []
        for t in tests:
            bright_name, dark_name = str(t.get("bright_frame")), t.get("darker_2to3ev")
            if not dark_name:
                entries.append({"bright_frame": bright_name, "skipped": "no frame 2-3 EV darker"})
                continue
            try:
                ev_diff = float(t["ev_diff"])
            except (KeyError, TypeError, ValueError):
                raise EvalError(f"{d / 'info.json'}: highlight_test entry for {bright_name} has no ev_diff") from None
            bar.set_postfix_str(f"{name[:20]} {bright_name}")
            bright, dark = load_pair(d / bright_name, d / dark_name, opts.max_side)
            rmap = rec(bright)
            preds = {"ours": rmap.to_tensor()[0].permute(1, 2, 0).numpy(),
                     "naive": rmap.lin()[0].permute(1, 2, 0).numpy()}
            e = {"bright_frame": bright_name, "darker_frame": dark_name, "size": [bright.shape[1], bright.shape[0]],
                 "clip_frac_info": t.get("clip_frac"), "alignment": pair_alignment(info, bright_name, str(dark_name)),
                 **bracket_scores(bright, dark, ev_diff, preds, crf),
                 "levels": levels_by_clipped_channels(bright, dark, ev_diff, preds, crf)}
            entries.append(e)
            all_entries.append(e)
            bar.update(1)
        pairs = [e["alignment"] for e in entries if "alignment" in e]
        known = [a for a in pairs if a is not None]
        if pairs and len(known) == len(pairs):  # judged on the scored pairs themselves
            bad = sorted({a["verdict"] for a in known if a["verdict"] != "aligned"})
            flag = f"  [scored pairs: {', '.join(bad)}]" if bad else ""
        else:
            flag = "" if verdict.startswith("aligned") and "?" not in verdict else f"  [alignment: {verdict}]"
        sets[name] = {"folder": str(d), "alignment": verdict, "flag": flag, "entries": entries,
                      "means": _aggregate(entries)}
        say(set_line(name, sets[name]["means"], flag))
    bar.close()
    total = _aggregate(all_entries)
    seconds = time.time() - start
    doc = {"command": opts.command(), "mode": "brackets", "data": str(root), "max_side": opts.max_side,
           "crf": opts.crf, "model": minfo, "seconds": seconds,
           "definitions": {"clip_code": CLIP_CODE, "reference_max_code": REF_MAX_CODE, "luma": LUMA.tolist(),
                           "light_fraction": LIGHT_FRACTION, "light_statistic": "max over channels"},
           "sets": sets, "means": total}
    _write(Path(opts.out) / "summary.json", json.dumps(_jsonable(doc), indent=1).encode())
    _write(Path(opts.out) / "summary.md", _markdown(opts, sets, total, minfo, seconds).encode())
    say(set_line("ALL (mean over pairs)", total))
    return doc
