"""What the stream's colour correction (compact/colour.py) buys: every quality level with and without it.

    python benchmarks/colour_gain.py --data FOLDER [--model DIR]

Both runs code the same bits; the correction adds its 19-byte block (when it helps) and changes the
decoded pixels. Prints each level's mean bpp, PSNR and MS-SSIM, the PSNR gain per image (median, worst,
best) and the BD-rate of the corrected curve against the uncorrected one (negative: fewer bytes).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from compact.codec import Codec
from compact.evaluation.harness import COMPACT, load_images, measure_image
from compact.evaluation.summary import bd_rate, mean_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    torch.set_num_threads(1)  # MS-SSIM's small convolutions; one process, as compact eval --jobs 1
    images = load_images(args.data)
    rows = {}
    for name, corrected in (("without", False), ("with", True)):
        codec = Codec(args.model, "onnx", threads=1, colour_correction=corrected)
        rows[name] = [row for image, rgb in images for row in measure_image(image, rgb, [COMPACT], codec)]
    curves = {name: mean_curves(found)[COMPACT] for name, found in rows.items()}
    print(f"{len(images)} images under {args.data}, model {args.model}")
    for name, points in curves.items():
        print(f"{name:>8} correction: " + ", ".join(p.text for p in points))
    for quality in sorted({r.setting for r in rows["with"]}):
        gains = [a.psnr - b.psnr for a, b in zip(rows["with"], rows["without"], strict=True) if a.setting == quality]
        print(f"quality {quality:g}: PSNR gain per image median {statistics.median(gains):+.2f} dB, "
              f"worst {min(gains):+.2f}, best {max(gains):+.2f}")  # fmt: skip
    pair = {"without": curves["without"], COMPACT: curves["with"]}  # bd_rate measures COMPACT against the anchor
    for metric in ("psnr", "msssim"):
        bd = bd_rate(pair, "without", metric)
        print(f"BD-rate {metric} with vs without: {bd.text}")


if __name__ == "__main__":
    main()
