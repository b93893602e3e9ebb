"""Throughput of the batch engines on this machine: the local process pool vs Ray Data with 1 and 2 actors.

    python benchmarks/scale_ray.py [--data ../shared/data/train] [--count 240] [--size 256] [--repeat 3]

The images are --count crops of --size px from the training photos (never the Kodak test set), saved as PNG.
Every engine compresses the same folder into a fresh output folder, then decompresses the streams; the time
is wall clock from the call to its summary, so it includes starting the workers (processes or actors, each
loading its onnxruntime session) but not starting Ray itself, which is reported apart. The median of
--repeat runs is printed, and every engine's outputs are checked byte-identical to the local pool's. Prints a
markdown table (docs/SCALE.md) and the load average, since other jobs on the machine change every number.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from compact import batch
from compact.files import find_images
from compact.spec import CodecSpec


def make_images(data: Path, out: Path, count: int, size: int) -> None:
    """``count`` size x size crops, spread over the photos: each photo is scaled so its short side is 2 x size."""
    photos = find_images(data)
    rng = np.random.default_rng(0)
    out.mkdir(parents=True)
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as im:
            im = im.convert("RGB")
            scale = 2 * size / min(im.size)
            im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))), Image.BICUBIC)
            x, y = rng.integers(0, im.width - size + 1), rng.integers(0, im.height - size + 1)
            sub = out / f"part{i % 4}"
            sub.mkdir(exist_ok=True)
            im.crop((x, y, x + size, y + size)).save(sub / f"crop{i:04d}.png", compress_level=1)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def timed(engine: Callable[[str, Path, Path], batch.Summary], mode: str, src: Path, out: Path,
          repeat: int) -> tuple[float, dict[str, bytes]]:  # fmt: skip
    """Median seconds of ``repeat`` runs of ``engine(mode, src, out)``, each into an empty ``out``; its files."""
    seconds = []
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        summary = engine(mode, src, out)
        seconds.append(time.perf_counter() - t0)
        assert not summary.failed, summary.failed
    return statistics.median(seconds), tree(out)


def measure(name: str, engine: Callable[[str, Path, Path], batch.Summary], args: argparse.Namespace,
            rows: list[tuple[str, float, float]]) -> tuple[dict[str, bytes], dict[str, bytes]]:  # fmt: skip
    """Compress the images, then decompress the streams; append a table row; return both output trees."""
    t_c, cpt = timed(engine, "compress", args.workdir / "images", args.workdir / "cpt", args.repeat)
    t_d, png = timed(engine, "decompress", args.workdir / "cpt", args.workdir / "png", args.repeat)
    rows.append((name, t_c, t_d))
    return cpt, png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/train"))
    parser.add_argument("--count", type=int, default=240)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/compact-scale"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    src = args.workdir / "images"
    make_images(args.data, src, args.count, args.size)
    rows: list[tuple[str, float, float]] = []
    load = os.getloadavg()

    # The local pool first: it forks its workers, which a process already running Ray must not do.
    for workers in (1, 2):

        def local(mode: str, src: Path, out: Path, workers: int = workers) -> batch.Summary:
            return batch.run(batch.plan([src], out, mode), mode, CodecSpec(backend="onnx"), workers)

        reference = measure(f"local pool, {workers} process{'es' * (workers > 1)}", local, args, rows)

    import ray

    from compact import distributed

    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False)
    print(f"ray.init (a local Ray instance, {os.cpu_count()} CPUs): {time.perf_counter() - t0:.1f} s")
    for workers in (1, 2):
        options = distributed.RunOptions(CodecSpec(backend="onnx"), distributed.Workers(workers))

        def on_ray(mode: str, src: Path, out: Path, options: distributed.RunOptions = options) -> batch.Summary:
            return distributed.run([str(src)], str(out), mode, options)

        outputs = measure(f"Ray Data, {workers} actor{'s' * (workers > 1)}", on_ray, args, rows)
        assert outputs == reference, "the Ray engine's outputs differ from the local pool's"
    ray.shutdown()

    print(f"\n{args.count} images of {args.size}x{args.size} px, median of {args.repeat} runs, "
          f"{os.cpu_count()} cores; outputs byte-identical across engines\n")  # fmt: skip
    print("| engine | compress s | compress images/s | decompress s | decompress images/s |")
    print("|---|---:|---:|---:|---:|")
    for name, t_c, t_d in rows:
        print(f"| {name} | {t_c:.1f} | {args.count / t_c:.1f} | {t_d:.1f} | {args.count / t_d:.1f} |")
    print(f"\nload average (1, 5, 15 min) at the start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; "
          f"at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip


if __name__ == "__main__":
    main()
