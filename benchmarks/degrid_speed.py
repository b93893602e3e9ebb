"""What the reader's grid filter (compact/degrid.py) adds to a decompress.

    python benchmarks/degrid_speed.py --data FOLDER [--images 4] [--repeats 5] [--scale 1]

Each image is compressed once, then decompressed ``repeats`` times with the filter and without it in the same
process on one thread (alternating, medians). ``--scale 3`` upsizes the images first (a 768x512 photo becomes
2304x1536, which the codec decodes in tiles). Prints per image the two decompress times, the filter's share
and its milliseconds per megapixel, then the medians over the images.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from compact.codec import Codec
from compact.evaluation.harness import load_images


def _median_time(codec: Codec, data: bytes, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        codec.decompress_array(data)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=4, help="the first N images of the folder")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=int, default=1, help="upsize the images this many times first")
    args = parser.parse_args()
    filtered = Codec(args.model, "onnx", threads=1)
    plain = Codec(args.model, "onnx", threads=1, degrid=False)
    if not filtered.bundle.manifest.degrid:
        raise SystemExit(f"model {filtered.model_id} does not ask for the grid filter (manifest degrid: false)")
    shares, per_mp = [], []
    print(f"model {filtered.model_id}, one thread, median of {args.repeats}")
    for name, rgb in load_images(args.data)[: args.images]:
        if args.scale > 1:
            size = (rgb.shape[1] * args.scale, rgb.shape[0] * args.scale)
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC))
        data = filtered.compress(rgb)
        filtered.decompress_array(data), plain.decompress_array(data)  # warm both sessions
        with_filter, without = _median_time(filtered, data, args.repeats), _median_time(plain, data, args.repeats)
        megapixels = rgb.shape[0] * rgb.shape[1] / 1e6
        shares.append(with_filter / without)
        per_mp.append((with_filter - without) * 1e3 / megapixels)
        print(f"{name:24s} {rgb.shape[1]}x{rgb.shape[0]}  decompress {without:6.3f} s, with the filter "
              f"{with_filter:6.3f} s: {shares[-1]:.3f}x, {per_mp[-1]:.0f} ms per MP")
    print(f"median: {statistics.median(shares):.3f}x the decompress without it, "
          f"{statistics.median(per_mp):.0f} ms per megapixel")


if __name__ == "__main__":
    main()
