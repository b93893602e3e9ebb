"""``compact eval``: sweep, summarize, and write the CSV, JSON, markdown and plots into one folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from compact.codec import Codec
from compact.evaluation.harness import (
    COMPACT,
    check_codecs,
    evaluate,
    load_images,
    write_csv,
)
from compact.evaluation.plots import rd_plots
from compact.evaluation.report import markdown
from compact.evaluation.summary import summarize
from compact.files import write_atomic, write_with

OUTPUTS = ("per_image.csv", "summary.json", "summary.md", "rd_psnr.png", "rd_msssim.png")


def run_eval(data: Path, codecs: list[str], out: Path, model: str = "default", backend: str = "auto",
             jobs: int = 1, refine: int = 0, on_start: Callable[[int], None] | None = None,
             progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """Evaluate and write every output: the report, which a rerun replaces (other files in ``out`` are left
    alone). Each output is written atomically, after all the work, so a failed run leaves the last report."""
    check_codecs(codecs)
    out.mkdir(parents=True, exist_ok=True)
    images = load_images(data)
    compact = Codec(model, backend, refine=refine) if COMPACT in codecs else None  # fails here, once
    if on_start is not None:
        on_start(len(images))
    rows = evaluate(images, codecs, model, backend, jobs, progress, refine)
    default = compact.bundle.manifest.config.default_quality if compact else None
    summary = summarize(rows, default)
    if compact is not None:
        summary["model"] = {"id": compact.model_id, "levels": list(compact.bundle.manifest.config.levels),
                            "refine": refine}  # fmt: skip
    write_with(out / "per_image.csv", lambda tmp: write_csv(rows, tmp), force=True)
    write_atomic(out / "summary.json", json.dumps(summary, indent=1).encode(), force=True)
    write_atomic(out / "summary.md", markdown(summary).encode(), force=True)
    for name, png in rd_plots(summary).items():
        write_atomic(out / name, png, force=True)
    return summary
