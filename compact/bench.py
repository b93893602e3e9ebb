"""``compact bench``: speed and memory of every runtime on real images, against the machine's own GEMM peak.

Each (backend, image) pair runs in a fresh subprocess so its peak RSS is its own. Times are medians of
``repeat`` runs after one warm-up. FLOPs count 2 per multiply-accumulate of the convolutions (including
GDN's 1x1 convolutions), read from the exported ONNX graphs.
"""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from compact import roles
from compact.errors import CompactError
from compact.manifest import ModelBundle


def median_ms(fn, repeat: int) -> float:  # noqa: ANN001 - any zero-argument callable
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def gemm_peak_gflops(size: int = 2048, repeat: int = 5) -> float:
    """float32 matrix-multiply throughput of numpy's BLAS on this machine, now."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    ms = median_ms(lambda: a @ b, repeat)
    return 2 * size**3 / (ms * 1e-3) / 1e9


def conv_macs(onnx_path: Path, height: int, width: int) -> int:
    """Multiply-accumulates of every Conv in an ONNX graph at one input size (needs the onnx package)."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(onnx_path))
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    dims[2].ClearField("dim_param")
    dims[3].ClearField("dim_param")
    dims[2].dim_value, dims[3].dim_value = height, width
    model = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    shapes.update({v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.output})
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out = shapes[node.output[0]]
            _, cin_per_group, kh, kw = weights[node.input[1]]
            total += int(np.prod(out)) * cin_per_group * kh * kw
    return total


@dataclass
class Row:
    backend: str
    image: str
    size: str
    megapixels: float
    encode_ms: float
    decode_ms: float
    mpix_per_s: float
    peak_rss_mb: float
    gflops: float | None = None
    gemm_fraction: float | None = None


def bench_images(data: Path, out: Path) -> dict[str, Path]:
    """A Kodak image as given, and a 720p frame and a 12 MP photo resized from it."""
    from compact.codec import as_picture
    from compact.picture import save_image

    pngs = sorted(data.glob("*.png")) if data.is_dir() else [data]
    if not pngs:
        raise CompactError(f"no PNG image in {data}")
    base = Image.fromarray(as_picture(pngs[0]).rgb)
    out.mkdir(parents=True, exist_ok=True)
    images = {f"{pngs[0].stem}": pngs[0]}
    for name, size in (("frame-720p", (1280, 720)), ("photo-12mp", (4000, 3000))):
        path = out / f"{name}.png"
        if not path.exists():
            save_image(np.asarray(base.resize(size, Image.LANCZOS)), path)
        images[name] = path
    return images


def _child(backend: str, image: Path, model: str, repeat: int, threads: int) -> dict[str, float]:
    """Runs in the subprocess: time encode and decode of one image on one backend."""
    from compact.bits import latent_to_symbols
    from compact.codec import Codec, as_rgb
    from compact.geometry import to_model_input
    from compact.tiling import decode_tiled, encode_tiled, needs_tiling

    codec = Codec(model, backend, threads=threads, max_pixels=None)
    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    channels = codec.bundle.manifest.config.latent_channels
    if needs_tiling(h, w):
        grid = codec.tiles  # the codec's own tiles, with its model's halo
        latent = encode_tiled(rgb, codec.backend.encode, channels, grid)
        bits = latent_to_symbols(latent)
        enc = median_ms(lambda: encode_tiled(rgb, codec.backend.encode, channels, grid), repeat)
        dec = median_ms(lambda: decode_tiled(bits, codec.backend.decode, w, h, grid), repeat)
    else:
        x = to_model_input(rgb)
        bits = latent_to_symbols(codec.backend.encode(x))
        enc = median_ms(lambda: codec.backend.encode(x), repeat)
        dec = median_ms(lambda: codec.backend.decode(bits), repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"encode_ms": enc, "decode_ms": dec, "peak_rss_mb": peak}


PILLOW_CODECS = (("JPEG", {"quality": 75}), ("WEBP", {"quality": 75, "method": 4}), ("AVIF", {"quality": 60}))


def _pillow_row(rgb: Image.Image, name: str, fmt: str, opts: dict[str, int], repeat: int) -> dict[str, object]:
    def encode() -> bytes:
        buf = io.BytesIO()
        rgb.save(buf, format=fmt, **opts)
        return buf.getvalue()

    data = encode()
    enc = median_ms(encode, repeat)
    dec = median_ms(lambda: Image.open(io.BytesIO(data)).load(), repeat)
    return {"codec": fmt, "image": name, "encode_ms": enc, "decode_ms": dec, "bytes": len(data)}


def pillow_rows(images: dict[str, Path], repeat: int) -> list[dict[str, object]]:
    """Pillow's JPEG, WebP and AVIF on the same images, as the reference for speed."""
    rows = []
    for name, path in images.items():
        rgb = Image.open(path).convert("RGB")
        rows += [_pillow_row(rgb, name, fmt, opts, repeat) for fmt, opts in PILLOW_CODECS]
    return rows


def run(data: Path, out: Path, model: str = "default", backends: tuple[str, ...] = ("torch", "onnx"),
        repeat: int = 5, threads: int | None = None) -> dict[str, object]:  # fmt: skip
    from compact.manifest import resolve_model
    from compact.runtimes import unavailable_reason

    if repeat < 1:
        raise CompactError("--repeat must be at least 1")
    threads = threads or os.cpu_count() or 1
    bundle: ModelBundle = resolve_model(model)
    images = bench_images(data, out / "images")
    peak = gemm_peak_gflops()
    rows, skipped = [], []
    for backend in backends:
        reason = unavailable_reason(backend, bundle)
        if reason:
            skipped.append(f"{backend}: {reason}")
            continue
        for name, path in images.items():
            code = (f"import json,sys; from compact.bench import _child; "
                    f"print(json.dumps(_child({backend!r}, sys.argv[1], {model!r}, {repeat}, {threads})))")  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
            if proc.returncode:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise CompactError(f"bench of {backend} on {name} failed: {last}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            w, h = Image.open(path).size
            mp = w * h / 1e6
            rows.append(Row(backend, name, f"{w}x{h}", round(mp, 3), res["encode_ms"], res["decode_ms"],
                            mp / ((res["encode_ms"] + res["decode_ms"]) / 1e3), res["peak_rss_mb"]))  # fmt: skip
    macs = _macs_per_pixel(bundle)
    for row in rows:
        if macs is not None:
            row.gflops = 2 * macs * row.megapixels * 1e6 / ((row.encode_ms + row.decode_ms) / 1e3) / 1e9
            row.gemm_fraction = row.gflops / peak
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {threads} threads",
        "gemm_peak_gflops": peak,
        "macs_per_pixel": macs,
        "rows": [asdict(r) for r in rows],
        "pillow": pillow_rows(images, repeat),
        "skipped": skipped,
    }
    (out / "bench.json").write_text(json.dumps(result, indent=1))
    (out / "bench.md").write_text(markdown(result))
    return result


def _macs_per_pixel(bundle: ModelBundle) -> float | None:
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        return None
    size = 256
    enc = conv_macs(bundle.file(roles.ONNX_ENCODER), size, size)
    dec = conv_macs(bundle.file(roles.ONNX_DECODER), size // 16, size // 16)
    return (enc + dec) / size**2


def markdown(result: dict[str, object]) -> str:
    macs = result["macs_per_pixel"]
    mac_text = f"{macs:.0f}" if macs else 'n/a (counting needs onnx: pip install "compact[bench]")'
    lines = [
        f"Machine: {result['machine']}; numpy GEMM peak {result['gemm_peak_gflops']:.1f} GFLOP/s; "
        f"{mac_text} MACs per pixel (encoder + decoder).",
        "",
        "| backend | image | size | encode ms | decode ms | Mpix/s | peak RSS MB | GFLOP/s | of GEMM peak |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:  # type: ignore[union-attr]
        gf = f"{r['gflops']:.1f}" if r["gflops"] else "n/a"
        frac = f"{r['gemm_fraction']:.0%}" if r["gemm_fraction"] else "n/a"
        lines.append(f"| {r['backend']} | {r['image']} | {r['size']} | {r['encode_ms']:.0f} | {r['decode_ms']:.0f} | "
                     f"{r['mpix_per_s']:.2f} | {r['peak_rss_mb']:.0f} | {gf} | {frac} |")  # fmt: skip
    lines += ["", "| Pillow codec | image | encode ms | decode ms | bytes |", "|---|---|---:|---:|---:|"]
    for r in result["pillow"]:  # type: ignore[union-attr]
        lines.append(f"| {r['codec']} | {r['image']} | {r['encode_ms']:.0f} | {r['decode_ms']:.0f} | {r['bytes']} |")
    for s in result["skipped"]:  # type: ignore[union-attr]
        lines.append(f"\nskipped {s}")
    return "\n".join(lines) + "\n"
