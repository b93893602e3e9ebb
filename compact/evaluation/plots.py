"""Rate-distortion plots (PNG): mean bpp against PSNR and against MS-SSIM, one line per codec."""

from __future__ import annotations

import io

from compact.evaluation.harness import COMPACT
from compact.evaluation.summary import PAPER_BPP, msssim_db

STYLE = {COMPACT: ("tab:red", "o"), "jpeg": ("tab:blue", "s"), "webp": ("tab:green", "^"),
         "avif": ("tab:purple", "D"), "jpeg2000": ("tab:orange", "v")}  # fmt: skip


def rd_plots(summary: dict, max_bpp: float = 1.0) -> dict[str, bytes]:
    """PNG bytes per file name (rd_psnr.png, rd_msssim.png); the caller writes them atomically."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    written = {}
    refine = summary.get("model", {}).get("refine", 0)
    names = {COMPACT: f"COMPACT (--refine {refine})" if refine else "COMPACT"}
    for metric, label in (("psnr", "PSNR (dB, RGB)"), ("msssim", "MS-SSIM (dB: -10 log10(1 - MS-SSIM))")):
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
        for codec, points in summary["curves"].items():
            points = [p for p in points if p["bpp"] <= max_bpp]
            color, marker = STYLE.get(codec, ("black", "."))
            ys = [p[metric] if metric == "psnr" else msssim_db(p[metric]) for p in points]
            ax.plot([p["bpp"] for p in points], ys, marker=marker, color=color, ms=4,
                    lw=2.2 if codec == COMPACT else 1.2, label=names.get(codec, codec.upper()))  # fmt: skip
        ax.axvline(PAPER_BPP, color="gray", ls="--", lw=0.8)
        ax.text(PAPER_BPP, ax.get_ylim()[0], " paper's rate", color="gray", fontsize=8, va="bottom")
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (file bytes, log scale)")
        ax.set_ylabel(label)
        ax.set_title(f"Rate-distortion, mean over {summary['images']} images")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, format="png")
        plt.close(fig)
        written[f"rd_{metric}.png"] = png.getvalue()
    return written
