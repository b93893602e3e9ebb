"""The markdown report: the paper's claim against measurements, BD-rates, the targets, the curves."""

from __future__ import annotations

from compact.evaluation.harness import COMPACT
from compact.evaluation.summary import PAPER_CLAIM_RATIO


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def markdown(summary: dict) -> str:
    lines = [f"Mean over {summary['images']} images; bytes are whole files (COMPACT: container with header).", ""]
    refine = summary.get("model", {}).get("refine", 0)
    if refine:
        lines += [f"COMPACT's codes were refined at compress (`--refine {refine}`); decoding is unchanged.", ""]
    if "compact_point" not in summary:
        return "\n".join(lines)
    p = summary["compact_point"]
    lines += [
        f"**COMPACT at the paper's operating point** (quality {p['setting']:g}): {p['bytes']:,.0f} bytes, "
        f"{p['bpp']:.4f} bpp, PSNR {p['psnr']:.2f} dB, MS-SSIM {p['msssim']:.4f}.",
        "",
        "| codec | bytes at matched MS-SSIM | × COMPACT (paper claims) | bytes at matched PSNR | "
        "PSNR / MS-SSIM at COMPACT's bytes | smallest file: bytes, PSNR, MS-SSIM |",
        "|---|---:|---:|---:|---:|---:|",
        f"| **COMPACT** | {p['bytes']:,.0f} | 1 | {p['bytes']:,.0f} | {p['psnr']:.2f} / {p['msssim']:.4f} | |",
    ]
    for codec, m in summary["matched"].items():
        need = m["mean_bytes_at_matched_msssim"]
        ratio = f"{need / p['bytes']:.2f}" if need else "n/a"
        if codec in PAPER_CLAIM_RATIO:
            ratio += f" ({PAPER_CLAIM_RATIO[codec]:.1f})"
        flags = []
        if m["images_bounded_msssim"]:
            flags.append(f"{m['images_bounded_msssim']} at its smallest file")
        if m["images_unreached_msssim"]:
            flags.append(f"{m['images_unreached_msssim']} never reached")
        need_txt = _num(need, ",.0f") + (f" ({'; '.join(flags)})" if flags else "")
        reach = m["images_reaching_compact_bytes"]
        at_rate = (f"{_num(m['psnr_at_compact_bytes'], '.2f')} / {_num(m['msssim_at_compact_bytes'], '.4f')}"
                   f" ({reach}/{summary['images']} images)" if reach else "cannot make files that small")  # fmt: skip
        lines.append(
            f"| {codec.upper()} | {need_txt} | {ratio} | {_num(m['mean_bytes_at_matched_psnr'], ',.0f')} | {at_rate} | "
            f"{m['smallest_file_bytes']:,.0f}, {m['smallest_file_psnr']:.2f}, {m['smallest_file_msssim']:.4f} |"
        )
    lines += ["", "| BD-rate of COMPACT vs | PSNR | MS-SSIM (dB scale) |", "|---|---:|---:|"]
    bd = {(b["anchor"], b["metric"]): b for b in summary["bd_rate"]}
    for codec in summary["matched"]:
        cells = []
        for metric in ("psnr", "msssim"):
            b = bd[(codec, metric)]
            cells.append(f"{b['percent']:+.1f} %" if b["percent"] is not None else b["note"])
        lines.append(f"| {codec.upper()} | {cells[0]} | {cells[1]} |")
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    for name, t in summary["targets"].items():
        value = t["value"]
        met = "yes" if t["met"] else "no"
        if t.get("note"):
            met += f" ({t['note']})"
        lines.append(f"| {name} | {_num(value, '.4g') if value is not None else 'n/a'} | {met} |")
    lines += ["", "| codec | setting | bytes | bpp | PSNR | MS-SSIM |", "|---|---:|---:|---:|---:|---:|"]
    for codec, points in summary["curves"].items():
        for q in points:
            name = f"**{codec.upper()}**" if codec == COMPACT else codec.upper()
            lines.append(f"| {name} | {q['setting']:g} | {q['bytes']:,.0f} | {q['bpp']:.4f} | {q['psnr']:.2f} | "
                         f"{q['msssim']:.4f} |")  # fmt: skip
    return "\n".join(lines) + "\n"
