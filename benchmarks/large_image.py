"""Large images: peak memory of compress/decompress on a ~50 MP photo-like image, and tiled vs whole PSNR.

    python benchmarks/large_image.py [--megapixels 50] [--workdir /tmp/compact-large]

Peak RSS comes from /usr/bin/time -v around the real CLI processes (the target is <= 1.5 GB at 50 MP).
The seam check decodes one stream of a 2048x2048 image whole and in tiles and reports the PSNR between them.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from compact.bits import binarize, bits_to_symbols
from compact.codec import Codec
from compact.geometry import from_model_output, to_model_input
from compact.metrics import psnr
from compact.tiling import decode_tiled


def photo_like(height: int, width: int, seed: int = 0) -> Image.Image:
    """Smooth colour fields plus fine noise, built in row bands to keep this script's own memory low."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.BICUBIC))
    out = np.empty_like(smooth)
    for y in range(0, height, 512):
        band = smooth[y : y + 512].astype(np.int16) + rng.integers(-12, 13, smooth[y : y + 512].shape, dtype=np.int16)
        out[y : y + 512] = np.clip(band, 0, 255)
    return Image.fromarray(out)


def timed(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a CLI run."""
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "compact.cli", *args], capture_output=True,
                          text=True, check=True)  # fmt: skip
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    return rss, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=50.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/compact-large"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    width = int((args.megapixels * 1e6 * 1.5) ** 0.5)
    height = int(args.megapixels * 1e6 / width)
    src, cpt, png = args.workdir / "large.png", args.workdir / "large.cpt", args.workdir / "large.out.png"
    photo_like(height, width).save(src, compress_level=1)
    print(f"image {width}x{height} = {width * height / 1e6:.1f} MP, {src.stat().st_size / 1e6:.0f} MB PNG")
    rss, secs = timed(["compress", str(src), "-o", str(cpt), "--force", "--max-pixels", "0", "-b", "onnx"])
    print(f"compress:   peak RSS {rss:.0f} MB, {secs:.1f} s, {cpt.stat().st_size} bytes")
    rss, secs = timed(["decompress", str(cpt), "-o", str(png), "--force", "-b", "onnx"])
    print(f"decompress: peak RSS {rss:.0f} MB, {secs:.1f} s")

    codec = Codec("default", "onnx")
    rgb = np.asarray(photo_like(2048, 2048, seed=1))
    symbols = bits_to_symbols(binarize(codec.backend.encode(to_model_input(rgb))[0]))[None]
    whole = from_model_output(codec.backend.decode(symbols), 2048, 2048)
    tiled = decode_tiled(symbols, codec.backend.decode, 2048, 2048, codec.tiles)
    print(f"tiled vs whole-image decode of one 2048x2048 stream: PSNR {psnr(whole, tiled):.2f} dB")


if __name__ == "__main__":
    main()
