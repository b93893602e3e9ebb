"""Bytes saved by entropy coding (container v2 vs v1) and its share of decode time, on a folder of images.

    python benchmarks/entropy_gain.py --data ../shared/data/kodak [--model DIR] [--repeat 5]

Both streams decode to identical pictures (checked here per image). Decode-time share = entropy decode time
/ decoder network time (onnxruntime), medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from compact import container, entropy
from compact.bench import median_ms
from compact.codec import Codec, as_rgb


def measure(path: Path, raw: Codec, coded: Codec, repeat: int) -> tuple[int, int, float, float, int]:
    """(v1 bytes, v2 bytes, entropy decode ms, network decode ms, pixels) for one image."""
    rgb = as_rgb(path)
    v1, v2 = raw.compress(rgb), coded.compress(rgb)
    if not np.array_equal(raw.decompress_array(v1), coded.decompress_array(v2)):
        raise SystemExit(f"{path.name}: v1 and v2 reconstructions differ")
    header, code, _ = coded.decode_bits(v2)
    payload = container.read(v2)[1]  # the code alone: the colour block follows it
    ent_ms = median_ms(lambda: entropy.decode(payload, header.latent_shape, coded.context), repeat)
    symbols = coded.decoder_input(code)
    net_ms = median_ms(lambda: coded.backend.decode(symbols), repeat)
    return len(v1), len(v2), ent_ms, net_ms, rgb.shape[0] * rgb.shape[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    coded = Codec(args.model, "onnx")
    if coded.context is None:
        raise SystemExit("the model has no context model: run compact fit-context first")
    raw = Codec(args.model, "onnx", entropy_coding=False)
    rows = []
    print(f"{'image':<14} {'v1 bytes':>9} {'v2 bytes':>9} {'saved':>7} {'entropy dec ms':>15} {'network dec ms':>15}")
    for path in sorted(args.data.glob("*.png")):
        v1, v2, ent, net, pixels = row = measure(path, raw, coded, args.repeat)
        rows.append(row)
        print(f"{path.name:<14} {v1:>9} {v2:>9} {1 - v2 / v1:>7.1%} {ent:>15.1f} {net:>15.1f}")
    v1s, v2s, ents, nets, pixels = (list(col) for col in zip(*rows, strict=True))
    shares = [e / n for e, n in zip(ents, nets, strict=True)]
    print(f"total: v1 {sum(v1s)} bytes ({8 * sum(v1s) / sum(pixels):.4f} bpp), v2 {sum(v2s)} bytes "
          f"({8 * sum(v2s) / sum(pixels):.4f} bpp), saved {1 - sum(v2s) / sum(v1s):.1%}")  # fmt: skip
    print(f"median entropy decode {statistics.median(ents):.1f} ms, median network decode "
          f"{statistics.median(nets):.1f} ms, median share {statistics.median(shares):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
