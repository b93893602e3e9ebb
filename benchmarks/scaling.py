"""Time and memory against image size, 0.4 to 50 megapixels.

    python benchmarks/scaling.py [--sizes 0.4,1,4,12,25,50] [--workdir /tmp/compact-scaling] [--plot scaling.png]

Each size runs in its own process under /usr/bin/time -v (peak RSS of the whole process: load, encode, decode,
PNG write). Time per megapixel counts the codec's work in that process (read, encode, entropy code, decode,
write) on the second round trip of the image: the first one at a new size also pays onnxruntime's one-time work
for the new input shapes, reported separately as "first s/MP". The target is every size within +-20% of the
smallest. Plots time and RSS vs megapixels when matplotlib is
installed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from large_image import photo_like  # noqa: E402

CHILD = """
import json, sys, time
import numpy as np
from compact.codec import Codec
from compact.picture import save_image
codec = Codec("default", "onnx", max_pixels=None)
codec.decompress_picture(codec.compress(np.zeros((64, 64, 3), np.uint8)))  # sessions created
times = []
for _ in range(2):  # the first call at a new size includes onnxruntime's one-time work for that input shape
    t0 = time.perf_counter()
    data = codec.compress(sys.argv[1])
    t1 = time.perf_counter()
    save_image(codec.decompress_picture(data), sys.argv[2], force=True)
    times.append((t1 - t0, time.perf_counter() - t1))
print(json.dumps({"first_s": sum(times[0]), "compress_s": times[1][0], "decompress_s": times[1][1]}))
"""


def run_size(src: Path, out: Path) -> dict[str, float]:
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", CHILD, str(src), str(out)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.4,1,4,12,25,50")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/compact-scaling"))
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for mp in (float(s) for s in args.sizes.split(",")):
        width = int((mp * 1e6 * 1.5) ** 0.5)
        height = int(mp * 1e6 / width)
        src = args.workdir / f"{mp}mp.png"
        if not src.exists():
            photo_like(height, width, seed=int(mp * 10)).save(src, compress_level=1)
        res = run_size(src, src.with_suffix(".out.png"))
        res["megapixels"] = width * height / 1e6
        res["s_per_mp"] = (res["compress_s"] + res["decompress_s"]) / res["megapixels"]
        res["first_s_per_mp"] = res["first_s"] / res["megapixels"]
        rows.append(res)
    base = rows[0]["s_per_mp"]
    print(f"{'MP':>6} {'compress s':>10} {'decompress s':>12} {'s/MP':>6} {'vs 1st size':>11} {'first s/MP':>10} "
          f"{'peak RSS MB':>11}")  # fmt: skip
    for r in rows:
        print(f"{r['megapixels']:>6.1f} {r['compress_s']:>10.2f} {r['decompress_s']:>12.2f} {r['s_per_mp']:>6.2f} "
              f"{r['s_per_mp'] / base - 1:>+11.0%} {r['first_s_per_mp']:>10.2f} {r['peak_rss_mb']:>11.0f}")  # fmt: skip
    (args.workdir / "scaling.json").write_text(json.dumps(rows, indent=1))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        mps = [r["megapixels"] for r in rows]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        ax1.plot(mps, [r["compress_s"] for r in rows], "o-", label="compress")
        ax1.plot(mps, [r["decompress_s"] for r in rows], "o-", label="decompress")
        ax1.set(xlabel="megapixels", ylabel="seconds", title="time vs size (onnxruntime, 2 cores)")
        ax2.plot(mps, [r["peak_rss_mb"] for r in rows], "o-", label="whole process")
        ax2.set(xlabel="megapixels", ylabel="peak RSS (MB)", title="memory vs size")
        for ax in (ax1, ax2):
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
