"""Rate-distortion of several COMPACT model folders on one folder of images, and BD-rates against the first.

    python benchmarks/compare_models.py --data HELD_OUT_FOLDER MODEL_A MODEL_B [...] [--jobs 1]
    python benchmarks/compare_models.py --data HELD_OUT_FOLDER --refine 50 MODEL MODEL   # refinement vs none

Every quality level of every model, measured as ``compact eval`` measures (whole files, PSNR, MS-SSIM), so a
candidate is chosen by rate and distortion together: validation PSNR alone cannot see a model that spends
fewer bits. Choose on held-out training photos, never on the test set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compact.evaluation.harness import COMPACT, evaluate, load_images
from compact.evaluation.summary import bd_rate, mean_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--refine", type=int, default=0, help="encoder-side refinement steps for every model")
    parser.add_argument("--refine-anchor", action="store_true", help="refine the first model too")
    args = parser.parse_args()
    images = load_images(args.data)
    refines = [args.refine if i > 0 or args.refine_anchor else 0 for i in range(len(args.models))]
    curves = {f"{model} (refine {steps})":
              mean_curves(evaluate(images, [COMPACT], model, args.backend, args.jobs, refine=steps))[COMPACT]
              for model, steps in zip(args.models, refines, strict=True)}  # fmt: skip
    anchor = next(iter(curves))
    print(f"{len(images)} images under {args.data}; BD-rate against {anchor} (negative: fewer bytes)")
    for model, points in curves.items():
        levels = ", ".join(p.text for p in points)
        print(f"{model}: {levels}")
        if model != anchor:
            pair = {"anchor": curves[anchor], COMPACT: points}
            for metric in ("psnr", "msssim"):
                print(f"  BD-rate {metric}: {bd_rate(pair, 'anchor', metric).text}")


if __name__ == "__main__":
    main()
