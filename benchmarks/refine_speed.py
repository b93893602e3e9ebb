"""What encoder-side refinement (compact/training/refine.py) costs in time, and buys, at one quality level.

    python benchmarks/refine_speed.py --data FOLDER [--steps 50] [--quality 2] [--images 4] [--repeats 3]

Each image is compressed with and without refinement in the same process on one thread (``repeats`` times,
medians), then decoded by the plain codec. Prints per image the compress times, the refinement's seconds per
step per megapixel, the PSNR gain and the byte ratio, then the medians over the images: the figures the
``--refine`` help quotes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from compact.codec import Codec
from compact.evaluation.harness import load_images
from compact.metrics import psnr


def _timed(codec: Codec, rgb, quality: int | None, repeats: int) -> tuple[float, bytes]:
    times, data = [], b""
    for _ in range(repeats):
        t0 = time.perf_counter()
        data = codec.compress(rgb, quality=quality)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--quality", type=int, default=None)
    parser.add_argument("--images", type=int, default=4, help="the first N images of the folder")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    plain = Codec(args.model, "onnx", threads=1)
    refined = Codec(args.model, "onnx", threads=1, refine=args.steps)
    per_step, slowdown, gains, growth = [], [], [], []
    images = load_images(args.data)[: args.images]
    for codec in (plain, refined):  # sessions and torch start up outside the timings
        codec.compress(images[0][1][:64, :64], quality=args.quality)
    print(f"model {plain.model_id}, quality {args.quality or 'default'}, {args.steps} steps, one thread")
    for name, rgb in images:
        megapixels = rgb.shape[0] * rgb.shape[1] / 1e6
        plain_s, plain_data = _timed(plain, rgb, args.quality, args.repeats)
        refined_s, refined_data = _timed(refined, rgb, args.quality, args.repeats)
        per_step.append((refined_s - plain_s) / args.steps / megapixels)
        slowdown.append(refined_s / plain_s)
        gains.append(psnr(rgb, plain.decompress_array(refined_data)) - psnr(rgb, plain.decompress_array(plain_data)))
        growth.append(len(refined_data) / len(plain_data))
        print(f"{name}: {megapixels:.2f} MP, compress {plain_s:.2f} s plain, {refined_s:.1f} s refined "
              f"({per_step[-1]:.2f} s per step per MP, {slowdown[-1]:.0f}x), PSNR {gains[-1]:+.2f} dB, "
              f"bytes x{growth[-1]:.3f}")  # fmt: skip
    print(f"median over {len(gains)} images: {statistics.median(per_step):.2f} s per step per MP, "
          f"{statistics.median(slowdown):.0f}x the plain compress, PSNR {statistics.median(gains):+.2f} dB "
          f"(worst {min(gains):+.2f}), bytes x{statistics.median(growth):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
