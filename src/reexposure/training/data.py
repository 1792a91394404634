"""Training data: folders of HDR images -> (ldr, radiance) pairs rendered by the camera model.

Per image, radiance is normalised so that 95% of pixels (max over channels) are at or below 1.
Per sample, an exposure offset ``k`` (stops) and a CRF are drawn; the target is the normalised
radiance times ``2**k`` and the input is the 8-bit photo rendered from that *same* target (clip,
CRF, quantise, optionally sensor noise and JPEG), so input and target move together: the output is
relative radiance.

Every sample is a pure function of ``(seed, sample_number)``: the order of the data, the crops,
exposures and CRFs are reproducible, a resumed run sees exactly the samples it would have seen,
and several processes can split the stream without coordination.
"""

from __future__ import annotations

import io as _io
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from ..core import camera
from ..core.arrays import from_tensor, to_tensor
from ..formats.io import ImageError, read_hdr, read_photo, to_uint8
from ..formats.scenes import HDR_EXTENSIONS, DataError, find_hdr_files, find_ldr_files, normalize_95

__all__ = ["HDR_EXTENSIONS", "DataError", "find_hdr_files", "find_ldr_files", "normalize_95",
           "photo_radiance", "DataConfig", "Pair", "PairSynthesizer", "HDRPairs"]

log = logging.getLogger(__name__)

def photo_radiance(rgb: np.ndarray, max_side: int | None = None) -> tuple[np.ndarray, float]:
    """A well-exposed 8-bit photo as relative radiance for self-supervised pairs.

    ``rgb`` HxWx3 uint8 (sRGB) -> (HWC float32 linear radiance, the sRGB curve inverted, at most
    ``max_side`` pixels on the long side by area averaging; the share of pixels whose largest
    channel is at the clip level, code >= 254, before resizing). Those pixels hold no real
    radiance, which is why photos with many of them are not used."""
    clipped = camera.clipped_share(rgb)
    t = camera.crf_from_name("srgb").inverse(to_tensor(rgb))
    h, w = rgb.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        t = torch.nn.functional.interpolate(t, size=(max(1, round(h * f)), max(1, round(w * f))), mode="area")
    return from_tensor(t), clipped


@dataclass(frozen=True)
class DataConfig:
    """How training pairs are made. See :class:`PairSynthesizer`."""

    crop: int = 128
    ev_range: tuple[float, float] = (-3.0, 3.0)  # exposure offset k, stops
    clip_share: tuple[float, float] = (0.02, 0.25)  # target share of clipped pixels in a crop (or scene)
    clip_share_prob: float = 0.9  # else k ~ U(ev_range)
    # Whose pixels the clip share counts: "crop" (every crop exposed so that 2-25% of it clips) or
    # "scene" (the whole image exposed so that that share of it clips, as `reexpose eval` exposes
    # its cases and as a camera meters the whole frame; highlight-centred crops then hold more
    # clipped pixels, and a CPU fine-tune kept more lights with more held-out cases below naive:
    # MODEL_CARD.md "Eighth session").
    exposure_scope: str = "crop"
    # "Barely clipped" crops: with this probability (drawn before clip_share), k puts the crop's
    # brightest pixel (max channel) at U(peak_range) times the clip level, so that highlights just
    # above it are seen as often as suns (the model over-boosted them: Desk, leadenhall at 2%).
    peak_prob: float = 0.0
    peak_range: tuple[float, float] = (1.05, 2.0)
    highlight_crop_prob: float = 0.7  # centre the crop on one of the brightest 5% of pixels
    # Of those highlight crops, this share is centred on one of the brightest 0.1% of pixels
    # instead (light sources: a lamp is far smaller than 5% of a panorama, a sky is not).
    light_crop_prob: float = 0.0
    crf_bank: tuple[str, ...] = ("sqrt", "sqrt", "srgb", "gamma1.8", "gamma2.2", "gamma2.6")
    emor_path: str = ""  # EMoR file: adds random measured-like camera curves to the bank
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = (70, 98)
    noise_prob: float = 0.3
    noise_sigma: tuple[float, float] = (0.0, 0.01)  # read noise, linear units
    input_crf: str = "sqrt"  # the inverse CRF the model's input is linearised with (as at inference)
    scales: tuple[float, float] = (0.5, 1.0)  # random down-scaling of the whole image before crop
    cache_mb: int = 8192  # decoded images kept in memory (per loader process); the rest read on demand
    # Self-supervised pairs from well-exposed ordinary photos: the photo, linearised with the sRGB
    # curve, is the "radiance"; the input is a brighter rendition of it, so its texture clips.
    ldr_data: str = ""  # folder (searched recursively) of 8-bit photos; empty = none
    ldr_share: float = 0.0  # share of samples drawn from those photos
    ldr_max_clipped: float = 0.015  # photos with more pixels at the clip level (max channel >= 254) are skipped
    ldr_max_side: int = 1024  # photos are downscaled (area) to at most this long side when read
    # Camera-like photos (PairSynthesizer.camera_look / camera_render): with this probability a
    # sample is rendered as a camera's JPEG engine would write it instead of the plain
    # clip-CRF-quantise camera: white-balance gains and a colour matrix before the clip (saturated
    # colours clip in one or two channels), a highlight shoulder per channel with desaturation
    # toward white, 4:2:0 JPEG after mild sharpening. Real photos look like this; the plain camera
    # is what the held-out evaluation renders.
    camera_prob: float = 0.0
    wb_gain: tuple[float, float] = (0.8, 1.25)  # red and blue gains relative to green (log-uniform)
    saturation: tuple[float, float] = (0.0, 0.4)  # colour-matrix saturation boost
    shoulder_prob: float = 0.7  # share of camera-like photos with a highlight shoulder (else hard clip)
    shoulder_knee: tuple[float, float] = (0.6, 0.9)  # linear level where the roll-off starts
    desaturate: tuple[float, float] = (0.0, 0.8)  # pull toward white near the clip (0 = none)
    # where that pull starts: the brightest channel's linear level, before the curve (it is full
    # at 1.0). Real cameras keep about 0.66 / 0.34 / 0.11 of a colour's saturation in codes 232-243 /
    # 244-249 / 250-253 (square-law reading; scripts/clip_stats.py --brackets), camera-like photos
    # with the defaults 0.81 / 0.62 / 0.46 (20 training scenes), with 0.75 and (0.6, 1.0) 0.64 /
    # 0.37 / 0.20 (configs/cpu-v06-colour.yaml).
    desaturate_from: float = 0.8
    sharpen: tuple[float, float] = (0.0, 80.0)  # unsharp-mask strength, percent
    # The curve of a camera-like photo: "bank" (as pick_crf draws for every photo: crf_bank plus
    # EMoR samples) or "emor" (a random EMoR curve, needs emor_path). Pure gamma curves, sqrt
    # included, read through the square-law inverse keep the same brightness ratio between
    # exposures at every code; real brackets put 2.4x (codes 244-249) and 4.1x (250-253) more light
    # near the clip, relative to the mid-tones, than the square law reads (median of 12 pairs;
    # scripts/clip_stats.py --brackets); EMoR curves 1.8x and 2.4x, the bank's 1.2x and 1.4x.
    camera_curves: str = "bank"
    camera_jpeg_prob: float = 0.85
    camera_jpeg_quality: tuple[int, int] = (75, 97)


def _jpeg_roundtrip(img: Image.Image, quality: int, **options: int) -> Image.Image:
    """``img`` encoded as JPEG at ``quality`` (Pillow ``save`` options, e.g. ``subsampling``) and
    decoded again, as RGB."""
    buf = _io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, **options)
    return Image.open(_io.BytesIO(buf.getvalue())).convert("RGB")


@dataclass
class Pair:
    """One training pair and how it was made: ``ldr`` (HWC in [0,1], the 8-bit input photo),
    ``radiance`` (HWC >= 0, the target), exposure offset ``k`` (stops) and the ``crf``."""

    ldr: np.ndarray
    radiance: np.ndarray
    k: float
    crf: camera.CRF


class PairSynthesizer:
    """Renders (ldr, radiance) training pairs from one normalised HDR image."""

    def __init__(self, config: DataConfig) -> None:
        if config.exposure_scope not in ("crop", "scene"):
            raise ValueError(f"pairs.exposure_scope must be 'crop' or 'scene', got {config.exposure_scope!r}")
        if not 0.0 <= config.desaturate_from < 1.0:
            raise ValueError(f"pairs.desaturate_from must be in [0, 1), got {config.desaturate_from}")
        if config.camera_curves not in ("bank", "emor"):
            raise ValueError(f"pairs.camera_curves must be 'bank' or 'emor', got {config.camera_curves!r}")
        if config.camera_curves == "emor" and not config.emor_path:
            raise ValueError("pairs.camera_curves=emor needs pairs.emor_path (an EMoR file)")
        self.config = config
        self.bank = [camera.crf_from_name(n) for n in config.crf_bank]
        self.emor = camera.load_emor(config.emor_path) if config.emor_path else None

    def pick_crf(self, rng: np.random.Generator) -> camera.CRF:
        n = len(self.bank) + (1 if self.emor is not None else 0)
        i = int(rng.integers(n))
        if i == len(self.bank):
            return self.emor.sample(rng)  # type: ignore[union-attr]
        return self.bank[i]

    @staticmethod
    def bright_pixels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (ys, xs) of the brightest 5% of pixels (max over channels)."""
        peak = image.max(axis=-1)
        ys, xs = np.nonzero(peak >= np.percentile(peak, 95))
        return ys, xs

    def crop(self, image: np.ndarray, rng: np.random.Generator,
             bright: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """A random ``crop``x``crop`` HWC crop (with flips / 90-degree turns), biased to highlights
        (``bright``: cached :meth:`bright_pixels` of the image)."""
        c = self.config
        h, w = image.shape[:2]
        size = c.crop
        if rng.random() < 0.5 and min(h, w) * c.scales[0] >= size:
            s = float(rng.uniform(c.scales[0], c.scales[1]))
            # a crop of size/s pixels, resized to size: cheap random zoom
            size_src = min(int(round(size / s)), h, w)
        else:
            size_src = min(size, h, w)
        if rng.random() < c.highlight_crop_prob:
            ys, xs = bright if bright is not None else self.bright_pixels(image)
            if c.light_crop_prob > 0 and rng.random() < c.light_crop_prob:  # no draw when off
                peak = image[ys, xs].max(axis=-1)
                top = np.nonzero(peak >= np.percentile(peak, 98))[0]  # top 2% of the top 5%
                ys, xs = ys[top], xs[top]
            j = int(rng.integers(len(ys)))
            cy, cx = int(ys[j]), int(xs[j])
            y0 = int(np.clip(cy - size_src // 2 + rng.integers(-size_src // 4, size_src // 4 + 1), 0, h - size_src))
            x0 = int(np.clip(cx - size_src // 2 + rng.integers(-size_src // 4, size_src // 4 + 1), 0, w - size_src))
        else:
            y0 = int(rng.integers(h - size_src + 1))
            x0 = int(rng.integers(w - size_src + 1))
        patch = image[y0:y0 + size_src, x0:x0 + size_src]
        if size_src != size:
            t = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1)[None]
            # area averaging, as a camera with bigger pixels would integrate light
            t = torch.nn.functional.interpolate(t, size=(size, size), mode="area" if size_src > size else "bilinear",
                                                align_corners=None if size_src > size else False)
            patch = t[0].permute(1, 2, 0).numpy()
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        patch = np.rot90(patch, int(rng.integers(4)))
        return np.ascontiguousarray(patch)

    @staticmethod
    def _scene_sample(image: np.ndarray, pixels: int = 1 << 18) -> np.ndarray:
        """``image`` (HxWx3) itself, or every n-th row and column of it, n the largest step that
        leaves at least about ``pixels``: the pixels a scene-wide clip share is counted on
        (:attr:`DataConfig.exposure_scope`)."""
        n = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / pixels)))
        return image[::n, ::n]

    def exposure(self, patch: np.ndarray, rng: np.random.Generator) -> float:
        """Exposure offset k (stops) for this crop: with ``peak_prob``, so that its brightest pixel
        lands just above the clip level (``peak_range`` times it); usually so that a target share of
        pixels clips; otherwise uniform in ``ev_range``. Always within ``ev_range``."""
        c = self.config
        lo, hi = c.ev_range
        if c.peak_prob > 0 and rng.random() < c.peak_prob:  # no draw when off: old runs replay exactly
            top = float(patch.max())
            k = math.log2(float(rng.uniform(*c.peak_range)) / top) if top > 0 else hi
        elif rng.random() < c.clip_share_prob:
            share = float(rng.uniform(*c.clip_share))
            q = float(np.quantile(patch.max(axis=-1), 1.0 - share))
            k = -math.log2(q) if q > 0 else hi
        else:
            k = float(rng.uniform(lo, hi))
        return float(np.clip(k, lo, hi))

    def camera_look(self, radiance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The scene as the camera's colour pipeline sees it before the clip: HWC radiance ->
        HWC radiance >= 0, white-balance gains on red and blue (green fixed: a warm or cool
        balance makes red or blue clip first) and a colour-matrix saturation boost (saturated
        colours leave the gamut and clip in one or two channels). The target is this radiance."""
        c = self.config
        lo, hi = np.log(c.wb_gain[0]), np.log(c.wb_gain[1])
        gains = np.exp(rng.uniform(lo, hi, 3)).astype(np.float32)
        gains[1] = 1.0
        x = radiance * gains
        sat = float(rng.uniform(*c.saturation))
        if sat > 0:
            luma = x @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
            x = np.maximum((1.0 + sat) * x - sat * luma[..., None], 0.0)
        return x.astype(np.float32)

    def _noisy(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``x`` (HWC linear, >= 0) plus sensor noise of a random strength from ``noise_sigma``: read
        noise and shot noise that grows with the signal (up to the clip level). Not clipped."""
        sigma = float(rng.uniform(*self.config.noise_sigma))
        spread = np.sqrt(np.minimum(x, 1.0)) * sigma + sigma * 0.3
        return x + rng.normal(0.0, 1.0, x.shape).astype(np.float32) * spread

    def camera_render(self, radiance: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, camera.CRF]:
        """8-bit photo (HWC float in [0,1]) of HWC ``radiance`` as a camera's JPEG engine writes it:
        (shot and read noise), a highlight shoulder per channel (linear below ``knee``, rolling
        off to white at about ``knee + 5 (1 - knee)``: 1.3-2.7x the clip level of a hard clip, so a
        clipped pixel there held more light) or the hard clip, desaturation toward the brightest
        channel near white, a camera curve (:attr:`DataConfig.camera_curves`), quantisation, mild
        unsharp masking, and JPEG with 4:2:0 chroma subsampling."""
        c = self.config
        x = np.maximum(radiance, 0.0)
        if rng.random() < c.noise_prob:
            x = np.where(x >= 1.0, x, np.maximum(self._noisy(x, rng), 0.0))
        if rng.random() < c.shoulder_prob:
            knee = float(rng.uniform(*c.shoulder_knee))
            over = np.maximum(x - knee, 0.0) / (1.0 - knee)
            lin = np.where(x <= knee, x, knee + (1.0 - knee) * (1.0 - np.exp(-over)))
        else:
            lin = np.minimum(x, 1.0)
        d = float(rng.uniform(*c.desaturate))
        if d > 0:
            peak = lin.max(axis=-1, keepdims=True)
            t = np.clip((peak - c.desaturate_from) / (1.0 - c.desaturate_from), 0.0, 1.0)
            lin = lin + d * t * t * (3.0 - 2.0 * t) * (peak - lin)
        crf = self.emor.sample(rng) if self.emor is not None and c.camera_curves == "emor" else self.pick_crf(rng)
        ldr8 = np.round(np.asarray(crf(np.clip(lin, 0.0, 1.0).astype(np.float32))) * 255.0).astype(np.uint8)
        img = Image.fromarray(ldr8)
        amount = float(rng.uniform(*c.sharpen))
        if amount >= 1.0:
            radius = float(rng.uniform(0.6, 1.4))
            img = img.filter(ImageFilter.UnsharpMask(radius=radius, percent=int(amount), threshold=1))
        if rng.random() < c.camera_jpeg_prob:
            q = int(rng.integers(c.camera_jpeg_quality[0], c.camera_jpeg_quality[1] + 1))
            img = _jpeg_roundtrip(img, q, subsampling=2)  # 2 = 4:2:0
        return np.asarray(img, dtype=np.float32) / 255.0, crf

    def render(self, radiance: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, camera.CRF]:
        """8-bit photo (HWC float in [0,1], multiples of 1/255) of HWC ``radiance`` at EV 0."""
        c = self.config
        crf = self.pick_crf(rng)
        lin = np.clip(radiance, 0.0, 1.0)
        if rng.random() < c.noise_prob:
            lin = np.clip(self._noisy(lin, rng), 0.0, 1.0)
            lin = np.where(radiance >= 1.0, 1.0, lin)  # a clipped sensor stays clipped
        ldr = camera.quantize(crf(lin.astype(np.float32)))
        if rng.random() < c.jpeg_prob:
            q = int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1))
            img = _jpeg_roundtrip(Image.fromarray(np.round(ldr * 255).astype(np.uint8)), q)
            ldr = np.asarray(img, dtype=np.float32) / 255.0
        return ldr.astype(np.float32), crf

    def sample(self, image: np.ndarray, rng: np.random.Generator,
               bright: tuple[np.ndarray, np.ndarray] | None = None) -> Pair:
        """A :class:`Pair` from a normalised HDR image: one crop, one exposure ``k``; the target is
        ``crop * 2**k`` and the input is the photo rendered from that same target."""
        patch = self.crop(image, rng, bright)
        k = self.exposure(patch if self.config.exposure_scope == "crop" else self._scene_sample(image), rng)
        radiance = patch * np.float32(2.0**k)
        if self.config.camera_prob > 0 and rng.random() < self.config.camera_prob:  # no draw when off
            radiance = self.camera_look(radiance, rng)
            ldr, crf = self.camera_render(radiance, rng)
        else:
            ldr, crf = self.render(radiance, rng)
        return Pair(ldr, radiance, k, crf)

    def pair(self, image: np.ndarray, rng: np.random.Generator,
             bright: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ldr, radiance) HWC float32 from a normalised HDR image (see :meth:`sample`)."""
        p = self.sample(image, rng, bright)
        return p.ldr, p.radiance


def camera_case_photo(hdr: np.ndarray, share: float, key: str, seed: int) -> tuple[float, torch.Tensor, np.ndarray]:
    """An evaluation case (``reexpose eval --camera SEED``) as a camera's JPEG engine would take it:
    the exposure that clips ``share`` of the scene (:func:`reexposure.eval.run.exposure_for_share`),
    then :meth:`PairSynthesizer.camera_look` and :meth:`PairSynthesizer.camera_render` with the
    default :class:`DataConfig` (white balance and a colour matrix before the clip, a highlight
    shoulder, desaturation toward white, a random curve of the training bank, sharpening, 4:2:0
    JPEG), drawn from a generator seeded by ``seed``, ``key`` (the scene's name) and ``share``, so
    a run is repeatable. The ground truth is the white-balanced radiance the camera saw (clip level
    1.0); the evaluated methods still linearise with the evaluation's ``--crf``, as for a real
    photo whose curve is unknown. ``hdr`` HxWx3 float (normalised scene). Returns ``(exposure
    scale, ground truth (1,3,H,W), photo HxWx3 uint8)``."""
    import zlib

    from ..eval.run import exposure_for_share

    scale = exposure_for_share(hdr, share)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode()), int(round(share * 1e4))])
    synth = PairSynthesizer(DataConfig())
    seen = synth.camera_look(hdr.astype(np.float32) * np.float32(scale), rng)
    ldr, _ = synth.camera_render(seen, rng)
    return scale, torch.from_numpy(np.ascontiguousarray(seen)).permute(2, 0, 1)[None], to_uint8(ldr)


class HDRPairs(torch.utils.data.Dataset):
    """Map-style dataset over *sample numbers*: item ``n`` is a pair computed from
    ``(seed, n)``. Sample ``n`` uses image ``perm_e[n % N]`` where ``perm_e`` is a seeded
    permutation for epoch ``e = n // N``, so each image is used once per epoch.

    Decoded, normalised images are cached in memory as float32 (a 1024x512 panorama: 6 MB): when
    the dataset is built, files are read in order until ``config.cache_mb`` is full (unreadable
    ones are dropped with a warning); files past the budget are read on demand into a small LRU
    cache, and one that turns out unreadable then is skipped with a warning (the next readable
    image is used in its place), never crashing an epoch. Raises :class:`DataError` if no file is
    readable.
    """

    MIN_SIDE = 16

    def __init__(self, files: list[Path], config: DataConfig | None = None, seed: int = 0,
                 length: int = 10**9, photos: list[Path] | None = None) -> None:
        self.config = config = config or DataConfig()
        self.seed = seed
        self.length = length
        self.synth = PairSynthesizer(config)
        self.budget = max(0, config.cache_mb) * 2**20
        self.files: list[Path] = []
        self.names: list[str] = []
        self.cache: OrderedDict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] = OrderedDict()
        self.bad: set[int] = set()
        used = 0
        given = 0
        for p in files:
            given += 1
            if used < self.budget:
                entry = self._read(p)
                if entry is None:
                    continue
                self.cache[len(self.files)] = entry
                used += self._nbytes(entry)
            self.files.append(Path(p))
            self.names.append(Path(p).stem)
        self.resident = len(self.cache)  # entries [0, resident) are never evicted
        self.resident_bytes = used
        if not self.files or (not self.cache and not any(self._load(i) is not None for i in range(len(self.files)))):
            raise DataError(f"none of the {given} training files is a readable HDR image (.exr, .hdr, .pfm)")
        #: self-supervised sources (see ``DataConfig.ldr_data``): (name, image, bright pixels)
        self.photos: list[tuple[str, np.ndarray, tuple[np.ndarray, np.ndarray]]] = []
        for p in photos or []:
            entry = self._read_photo(Path(p))
            if entry is not None:
                self.photos.append((Path(p).stem, *entry))
        if photos and config.ldr_share > 0 and not self.photos:
            raise DataError(f"none of the {len(photos)} photos is usable for self-supervised pairs "
                            f"(unreadable, or more than {config.ldr_max_clipped:.1%} of pixels clipped)")

    def _read_photo(self, path: Path) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
        """One well-exposed photo as a normalised radiance image; ``None`` (logged) if unusable."""
        try:
            rgb = read_photo(path).rgb
        except (ImageError, OSError, ValueError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("skipping unreadable photo %s: %s", path, why)
            return None
        img, clipped = photo_radiance(np.ascontiguousarray(to_uint8(rgb)[..., :3]), self.config.ldr_max_side)
        if clipped > self.config.ldr_max_clipped:
            log.info("not using photo %s for self-supervised pairs: %.1f%% of pixels clipped", path.name, 100 * clipped)
            return None
        if min(img.shape[:2]) < self.MIN_SIDE:
            return None
        img = normalize_95(img)
        return img, self.synth.bright_pixels(img)

    @staticmethod
    def _nbytes(entry: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]) -> int:
        img, (ys, xs) = entry
        return img.nbytes + ys.nbytes + xs.nbytes

    def _read(self, path: Path) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
        """Decode and normalise one file; ``None`` (and a warning) if it cannot be used."""
        try:
            img = normalize_95(read_hdr(path))
        except (ImageError, OSError, ValueError, RuntimeError, MemoryError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("skipping unreadable HDR file %s: %s", path, why)
            return None
        if img.ndim != 3 or min(img.shape[:2]) < self.MIN_SIDE:
            log.warning("skipping %s: smaller than %d pixels", path, self.MIN_SIDE)
            return None
        return img, self.synth.bright_pixels(img)

    def _load(self, i: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
        """Image ``i`` from the cache or the disk (LRU beyond the resident set)."""
        if i in self.cache:
            if i >= self.resident:
                self.cache.move_to_end(i)
            return self.cache[i]
        if i in self.bad:
            return None
        entry = self._read(self.files[i])
        if entry is None:
            self.bad.add(i)
            return None
        self.cache[i] = entry
        lazy = [j for j in self.cache if j >= self.resident]  # least recently used first
        lazy_bytes = sum(self._nbytes(self.cache[j]) for j in lazy)
        while len(lazy) > 4 and lazy_bytes > self.budget - self.resident_bytes:
            j = lazy.pop(0)
            lazy_bytes -= self._nbytes(self.cache.pop(j))
        return entry

    def __len__(self) -> int:
        return self.length

    @property
    def images(self) -> list[np.ndarray]:
        """The cached (decoded, normalised) images, in file order."""
        return [self.cache[i][0] for i in sorted(self.cache)]

    def image_index(self, n: int) -> int:
        """Which image (index into :attr:`files`) sample ``n`` uses (before skipping bad files)."""
        count = len(self.files)
        epoch, i = divmod(n, count)
        perm = np.random.default_rng([self.seed, 1, epoch]).permutation(count)
        return int(perm[i])

    def photo_index(self, n: int) -> int | None:
        """Which photo (index into :attr:`photos`) sample ``n`` uses, or ``None`` for an HDR image.
        A separate random stream, so that ``ldr_share = 0`` leaves every HDR sample as it was."""
        if not self.photos or self.config.ldr_share <= 0:
            return None
        r = np.random.default_rng([self.seed, 3, int(n)])
        return int(r.integers(len(self.photos))) if r.random() < self.config.ldr_share else None

    def __getitem__(self, n: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, 2, int(n)])
        j = self.photo_index(int(n))
        if j is not None:
            _, image, bright = self.photos[j]
            ldr, radiance = self.synth.pair(image, rng, bright)
            return self._item(ldr, radiance, n, -1 - j)
        i = self.image_index(int(n))
        for step in range(len(self.files)):
            entry = self._load((i + step) % len(self.files))
            if entry is not None:
                i = (i + step) % len(self.files)
                break
        else:
            raise DataError("no readable HDR images left among the training files")
        image, bright = entry
        ldr, radiance = self.synth.pair(image, rng, bright)
        return self._item(ldr, radiance, n, i)

    @staticmethod
    def _item(ldr: np.ndarray, radiance: np.ndarray, n: int, i: int) -> dict[str, torch.Tensor]:
        """The sample dict; ``image`` is the HDR file index, or ``-1 - j`` for photo ``j``."""
        return {
            "ldr": torch.from_numpy(ldr).permute(2, 0, 1).contiguous(),
            "radiance": torch.from_numpy(np.ascontiguousarray(radiance)).permute(2, 0, 1).contiguous(),
            "index": torch.tensor(n),
            "image": torch.tensor(i),
        }
