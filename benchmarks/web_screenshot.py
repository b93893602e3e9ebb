"""Decode an image in the browser page and save a screenshot; report browser-vs-Python PSNR and timings.

    python benchmarks/web_screenshot.py --image examples/kodim23.png --out docs/web.png [--sizes]

The image is compressed in Python, served by ``compact web``'s server and decoded in headless Chromium with
onnxruntime-web (needs the build step compact/runtimes/web/build.sh, playwright and Debian's chromium).
--sizes also decodes the test sizes (16x16, 37x53, 256x384, version 1 and 2) and prints their PSNR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compact.codec import Codec
from compact.metrics import psnr
from compact.web import start

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import natural_image  # noqa: E402 (the tests' synthetic photos)
from support.webpage import WebPage  # noqa: E402 (the tests' page driver)


def decode(page: WebPage, codec: Codec, data: bytes, name: str) -> str:
    result = page.open(name, data)
    if not result["ok"]:
        raise SystemExit(f"{name}: the page failed: {result['message']}")
    value = psnr(page.pixels()[..., :3], codec.decompress_array(data))
    t = result["timings"]
    return (
        f"{name}: {result['width']}x{result['height']}, v{result['version']}, {result['bytes']} bytes, "
        f"{result['bpp']:.4f} bpp, browser vs Python PSNR {value:.2f} dB, decode {t['total']:.0f} ms "
        f"(entropy {t['entropy']:.1f} ms, network {t['network']:.0f} ms, {result['provider']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, default=Path("examples/kodim23.png"))
    parser.add_argument("--out", type=Path, default=Path("docs/web.png"))
    parser.add_argument("--sizes", action="store_true", help="also report the test sizes")
    args = parser.parse_args()

    codec = Codec("default", backend="onnx")
    raw = Codec("default", backend="onnx", entropy_coding=False)
    server, url = start()
    try:
        with WebPage(url) as page:
            if page.state != "ready":
                raise SystemExit(f"the page did not load: {page.text('#error')}")
            if args.sizes:
                for h, w in [(16, 16), (37, 53), (256, 384)]:
                    rgb = natural_image(h, w, seed=h + w)
                    for label, c in (("v1", raw), ("best", codec)):
                        print(decode(page, codec, c.compress(rgb), f"{w}x{h}-{label}.cpt"))
            # the screenshot shows the image the user dropped last
            print(decode(page, codec, codec.compress(args.image), args.image.with_suffix(".cpt").name))
            page.screenshot(args.out)
            print(f"screenshot: {args.out}")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
