"""From per-image measurements to the numbers codecs are compared by: mean RD curves, BD-rates, and the
paper's own framing (bytes per image at COMPACT's rate and at matched quality)."""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from compact.evaluation.harness import COMPACT, Measurement

#: The paper's operating point and claims (720p: 7.5 KB COMPACT, 81 KB JPEG, 52 KB WebP).
PAPER_BPP = 0.065
PAPER_CLAIM_RATIO = {"jpeg": 81 / 7.5, "webp": 52 / 7.5}


def msssim_db(value: float) -> float:
    """MS-SSIM as -10 log10(1 - MS-SSIM): spreads the high end, the usual scale for RD plots and BD."""
    return math.inf if value >= 1 else -10 * math.log10(1 - value)


@dataclass(frozen=True)
class CurvePoint:
    setting: float
    bytes: float
    bpp: float
    psnr: float
    msssim: float

    @property
    def text(self) -> str:
        """One point as the benchmarks print it: bpp, PSNR, MS-SSIM."""
        return f"{self.bpp:.4f} bpp {self.psnr:.2f} dB {self.msssim:.4f}"


def mean_curves(rows: list[Measurement]) -> dict[str, list[CurvePoint]]:
    """Per codec, the mean over images at each setting, sorted by rate."""
    groups: dict[tuple[str, float], list[Measurement]] = defaultdict(list)
    for r in rows:
        groups[(r.codec, r.setting)].append(r)
    curves: dict[str, list[CurvePoint]] = defaultdict(list)
    for (codec, setting), group in groups.items():
        curves[codec].append(
            CurvePoint(
                setting, *(float(np.mean([getattr(r, k) for r in group])) for k in ("bytes", "bpp", "psnr", "msssim"))
            )
        )
    return {codec: sorted(points, key=lambda p: p.bpp) for codec, points in curves.items()}


def _monotone(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Keep the points where quality rises with rate (BD interpolation needs a monotone curve)."""
    kept: list[tuple[float, float]] = []
    for rate, quality in sorted(points):
        if not kept or quality > kept[-1][1]:
            kept.append((rate, quality))
    return kept


@dataclass(frozen=True)
class BDRate:
    anchor: str
    metric: str
    percent: float | None  # negative: COMPACT needs that much less rate for the same quality
    overlap: tuple[float, float] | None  # quality interval both curves cover
    note: str = ""

    @property
    def text(self) -> str:
        """The percentage, or why there is none (no overlap, too few points)."""
        return f"{self.percent:+.1f} %" if self.percent is not None else self.note


def bd_rate(curves: dict[str, list[CurvePoint]], anchor: str, metric: str) -> BDRate:
    """Bjøntegaard delta rate of COMPACT against ``anchor`` (pchip interpolation, over the overlap)."""
    import bjontegaard

    def points(codec: str) -> list[tuple[float, float]]:
        value = (lambda p: p.psnr) if metric == "psnr" else (lambda p: msssim_db(p.msssim))
        return _monotone([(p.bpp, value(p)) for p in curves[codec] if math.isfinite(value(p))])

    ref, test = points(anchor), points(COMPACT)
    if len(ref) < 2 or len(test) < 2:
        return BDRate(anchor, metric, None, None, "fewer than 2 monotone points")
    lo, hi = max(ref[0][1], test[0][1]), min(ref[-1][1], test[-1][1])
    if lo >= hi:
        span = f"COMPACT {test[0][1]:.2f}-{test[-1][1]:.2f}, {anchor} {ref[0][1]:.2f}-{ref[-1][1]:.2f}"
        return BDRate(anchor, metric, None, None, f"no quality overlap ({span})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = bjontegaard.bd_rate(
            [r for r, _ in ref], [q for _, q in ref], [r for r, _ in test], [q for _, q in test],
            method="pchip", require_matching_points=False,
        )  # fmt: skip
    note = "; ".join(str(w.message) for w in caught)
    return BDRate(anchor, metric, float(value), (lo, hi), note)


def _interp_log_rate(curve: list[tuple[float, float]], target: float) -> tuple[float, bool] | None:
    """Bytes at which an image's (bytes, quality) curve first reaches ``target``, linear in log bytes.

    Returns (bytes, bounded): bounded when even the smallest file is better than the target (the codec
    cannot go lower, so its smallest file is what it needs); None when no point reaches the target.
    """
    curve = sorted(curve)
    if curve[0][1] >= target:
        return curve[0][0], True
    for (b0, q0), (b1, q1) in zip(curve, curve[1:], strict=False):
        if q1 >= target > q0:
            t = (target - q0) / (q1 - q0)
            return math.exp(math.log(b0) + t * (math.log(b1) - math.log(b0))), False
    return None


def _quality_at(curve: list[tuple[float, float]], size: float) -> float | None:
    """Quality of an image's curve at ``size`` bytes (linear in log bytes); None below its smallest file."""
    curve = sorted(curve)
    if size < curve[0][0]:
        return None
    logs = [math.log(b) for b, _ in curve]
    return float(np.interp(math.log(size), logs, [q for _, q in curve]))


@dataclass(frozen=True)
class Matched:
    """One codec against COMPACT's point, per image, averaged."""

    codec: str
    mean_bytes_at_matched_msssim: float | None
    images_bounded_msssim: int  # images where the codec's smallest file already beats COMPACT's MS-SSIM
    images_unreached_msssim: int
    mean_bytes_at_matched_psnr: float | None
    images_bounded_psnr: int
    images_unreached_psnr: int
    psnr_at_compact_bytes: float | None  # mean over images where the codec can make a file that small
    msssim_at_compact_bytes: float | None
    images_reaching_compact_bytes: int
    smallest_file_bytes: float  # mean of each image's smallest file
    smallest_file_psnr: float
    smallest_file_msssim: float


def matched(rows: list[Measurement], codec: str, quality: float) -> Matched:
    """Compare ``codec`` with COMPACT at ``quality`` image by image."""
    ours = {r.image: r for r in rows if r.codec == COMPACT and r.setting == quality}
    theirs: dict[str, list[Measurement]] = defaultdict(list)
    for r in rows:
        if r.codec == codec and r.image in ours:
            theirs[r.image].append(r)
    need: dict[str, list[float]] = {"msssim": [], "psnr": []}
    bounded = {"msssim": 0, "psnr": 0}
    unreached = {"msssim": 0, "psnr": 0}
    at_rate: dict[str, list[float]] = {"msssim": [], "psnr": []}
    smallest = []
    for image, points in theirs.items():
        mine = ours[image]
        smallest.append(min(points, key=lambda r: r.bytes))
        for metric in ("msssim", "psnr"):
            curve = [(float(r.bytes), getattr(r, metric)) for r in points]
            hit = _interp_log_rate(curve, getattr(mine, metric))
            if hit is None:
                unreached[metric] += 1
            else:
                need[metric].append(hit[0])
                bounded[metric] += hit[1]
            value = _quality_at(curve, mine.bytes)
            if value is not None:
                at_rate[metric].append(value)

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return Matched(
        codec, mean(need["msssim"]), bounded["msssim"], unreached["msssim"],
        mean(need["psnr"]), bounded["psnr"], unreached["psnr"],
        mean(at_rate["psnr"]), mean(at_rate["msssim"]), len(at_rate["psnr"]),
        float(np.mean([r.bytes for r in smallest])), float(np.mean([r.psnr for r in smallest])),
        float(np.mean([r.msssim for r in smallest])),
    )  # fmt: skip


def paper_quality(rows: list[Measurement], default_quality: int | None) -> float:
    """COMPACT's quality level closest to the paper's operating point (the model's default)."""
    levels = sorted({r.setting for r in rows if r.codec == COMPACT})
    return float(default_quality) if default_quality in levels else levels[-1]


def summarize(rows: list[Measurement], default_quality: int | None = None) -> dict:
    """Everything the report and the README table need, as JSON-ready data."""
    curves = mean_curves(rows)
    others = [c for c in curves if c != COMPACT]
    out: dict = {
        "images": len({r.image for r in rows}),
        "curves": {c: [asdict(p) for p in ps] for c, ps in curves.items()},
    }
    if COMPACT not in curves:
        return out
    quality = paper_quality(rows, default_quality)
    point = next(p for p in curves[COMPACT] if p.setting == quality)
    out["compact_point"] = asdict(point)
    out["matched"] = {c: asdict(matched(rows, c, quality)) for c in others}
    out["bd_rate"] = [asdict(bd_rate(curves, c, m)) for c in others for m in ("psnr", "msssim")]
    out["targets"] = targets(out)
    return out


def targets(summary: dict) -> dict[str, dict]:
    """The quality issue's targets, each with the measured value and whether it holds."""
    point, result = summary["compact_point"], {}
    result["bpp <= 0.07"] = {"value": point["bpp"], "met": point["bpp"] <= 0.07}
    result["PSNR >= 26.0 dB"] = {"value": point["psnr"], "met": point["psnr"] >= 26.0}
    result["MS-SSIM >= 0.87"] = {"value": point["msssim"], "met": point["msssim"] >= 0.87}
    for codec, need in (("jpeg", 5.0), ("webp", 2.0)):
        m = summary["matched"].get(codec)
        if m and m["mean_bytes_at_matched_msssim"]:
            ratio = m["mean_bytes_at_matched_msssim"] / point["bytes"]
            entry = {"value": ratio, "met": ratio >= need}
            if m["images_bounded_msssim"]:
                bounded = m["images_bounded_msssim"]
                entry["note"] = (f"{codec} at its smallest file for {bounded} of {summary['images']} images: "
                                 "it cannot make files that small, and those files have higher MS-SSIM")  # fmt: skip
            result[f"{codec} bytes / COMPACT bytes at matched MS-SSIM >= {need:g}"] = entry
    bd = next((b for b in summary["bd_rate"] if b["anchor"] == "webp" and b["metric"] == "msssim"), None)
    if bd is not None:
        result["BD-rate (MS-SSIM) vs WebP <= -30%"] = {
            "value": bd["percent"], "met": bd["percent"] is not None and bd["percent"] <= -30,
        }  # fmt: skip
    return result
