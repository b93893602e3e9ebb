"""Plot validation PSNR against steps and against CPU-hours from training logs (log.jsonl of compact train).

    python benchmarks/plot_training.py training-runs/wide/log.jsonl --label "wide, from the earlier default" \
        --reference 22.67 --reference-label "earlier default (N = 64)" --out docs/training_curve.png

Several logs (each with its --label, in order) share the axes. The time axis is the run's total training time
over every session (``total_s``; logs written before it existed use ``elapsed_s``, one process's time).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_log(path: Path) -> list[dict[str, float]]:
    """Validation rows only (the final summary line of a run has no val_psnr of its own step)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if "val_psnr" in r and ("elapsed_s" in r or "total_s" in r)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+")
    parser.add_argument("--label", action="append", default=[], help="one per log, in order")
    parser.add_argument("--reference", type=float, help="a horizontal line: a model's validation PSNR")
    parser.add_argument("--reference-label", default="shipped model", help="what the reference line is")
    parser.add_argument("--steps-before", type=int, default=0, help="steps behind the first log's start")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for i, path in enumerate(args.logs):
        rows = read_log(path)
        label = args.label[i] if i < len(args.label) else path.parent.name
        steps = [r["step"] + args.steps_before for r in rows]
        hours = [r.get("total_s", r.get("elapsed_s", 0.0)) / 3600 for r in rows]
        values = [r["val_psnr"] for r in rows]
        by_step.plot(steps, values, marker=".", label=label)
        by_time.plot(hours, values, marker=".", label=label)
    for axis, xlabel in ((by_step, "steps (batch 8 x 128²)"), (by_time, "CPU-hours (one core)")):
        if args.reference is not None:
            axis.axhline(args.reference, color="grey", linestyle="--", label=args.reference_label)
        axis.set_xlabel(xlabel)
        axis.grid(alpha=0.3)
    by_step.xaxis.set_major_formatter(lambda value, _: f"{value / 1000:g}k")  # 175000 -> 175k: labels stay apart
    by_step.set_ylabel("validation PSNR, mean of the 4 levels (dB)")
    by_step.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
