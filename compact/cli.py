"""The ``compact`` command line (typer). Every failure ends in one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from compact.errors import CompactError, MissingExtraError
from compact.image import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from compact.batch import Summary

app = typer.Typer(
    name="compact",
    help="COMPACT: a learned binary image codec (about 0.065 bits per pixel).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., None])

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model folder with a manifest.json, or 'default'.")]
BackendOpt = Annotated[str, typer.Option("--backend", "-b", help="auto, onnx, onnx-int8, coreml or torch.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing outputs.")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def handles_errors(func: F) -> F:
    """Turn the project's errors (and I/O errors) into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            func(*args, **kwargs)
        except CompactError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        except KeyboardInterrupt:
            typer.echo("interrupted: finished outputs are kept; run the same command again to resume", err=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def _require(extra: str, *modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f'this command needs {", ".join(missing)}: pip install "compact[{extra}]"')


def _single_output(src: Path, output: Path | None, suffix: str) -> Path:
    """-o FILE, -o FOLDER, or beside the input."""
    if output is None:
        return src.with_suffix(suffix)
    return output / (src.stem + suffix) if output.is_dir() else output


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CompactError(f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise CompactError(f"{path} is a folder, not a file") from exc


QualityOpt = Annotated[
    int | None,
    typer.Option(
        "--quality",
        "-q",
        help="Quality level 1..L of the model (more code channels); default: the "
        "paper's 16-channel point when the model has it.",
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", help="Worker processes for folders (default: cores); --engine ray: actors "
                 "(default: as many as the cluster fits)."),
]  # fmt: skip
MaxPixelsOpt = Annotated[
    int, typer.Option("--max-pixels", help="Refuse larger images (decompression-bomb guard); 0 = no limit.")
]
EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="local (a process pool) or ray (a Ray cluster; needs the distributed extra, "
                 "docs/SCALE.md); ray also takes s3://, gs://, ... URLs."),
]  # fmt: skip
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="--engine ray: the cluster (auto, ray://HEAD:10001); default $RAY_ADDRESS, "
                 "else a local Ray instance."),
]  # fmt: skip
GpusOpt = Annotated[
    float, typer.Option("--gpus-per-worker", help="--engine ray: GPUs per actor (CUDA via onnxruntime-gpu).")
]


def _batch(inputs: list[Path], output: Path | None, mode: str, model: str, backend: str, jobs: int | None,
           force: bool, max_pixels: int, quality: int | None = None) -> None:  # fmt: skip
    """Folders or several files: resumable, parallel, with a progress bar and a summary."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from compact import batch

    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    plan = batch.plan(inputs, output, mode)
    total = sum(job.src.stat().st_size for job in plan)
    columns = (TextColumn(f"[bold]{mode}"), BarColumn(), TextColumn("{task.fields[files]} files"),
               TextColumn("{task.percentage:>3.0f}%"), TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(mode, total=total, files=f"0/{len(plan)}")
        count = 0

        def progress(job: batch.Job, size: int, error: str | None) -> None:
            nonlocal count
            count += 1
            bar.update(task, advance=job.src.stat().st_size, files=f"{count}/{len(plan)}")
            if error not in (None, "skipped"):
                bar.console.print(f"failed: {job.src}: {error}", style="red", highlight=False)

        summary = batch.run(plan, mode, model, backend, jobs, force, max_pixels or None, progress, quality)
    if output is not None:
        batch.record_failures(output, summary.failed)
    _report(summary, mode, len(plan))


def _report(summary: Summary, mode: str, total: int) -> None:
    """The summary line of a batch run, then every failure; failures make the exit status 1."""
    mb = summary.bytes_in / 1e6
    typer.echo(f"{mode}: {summary.done} done, {summary.skipped} already done, {len(summary.failed)} failed; "
               f"{mb:.1f} MB in, {summary.bytes_out / 1e6:.2f} MB out, {summary.seconds:.1f} s "
               f"({mb / max(summary.seconds, 1e-9):.1f} MB/s)")  # fmt: skip
    for src, error in summary.failed:
        typer.echo(f"failed: {src}: {error}", err=True)
    if summary.failed:
        raise CompactError(f"{len(summary.failed)} of {total} files failed")


def _distributed(inputs: list[str], output: str | None, mode: str, model: str, backend: str, jobs: int | None,
                 force: bool, max_pixels: int, quality: int | None, address: str | None,
                 gpus: float) -> None:  # fmt: skip
    """--engine ray: the batch run on a Ray cluster (compact.distributed); Ray Data shows the progress."""
    _require("distributed", "ray", "pyarrow")
    from compact import distributed

    if output is None:
        raise CompactError("--engine ray writes into an output folder: give one with -o")
    spec = distributed.CodecSpec(model, backend, quality, max_pixels or None)
    options = distributed.RunOptions(spec, distributed.Workers(jobs, gpus=gpus), force, address)
    summary = distributed.run(inputs, output, mode, options)
    _report(summary, mode, summary.done + summary.skipped + len(summary.failed))


def _check_engine(engine: str, address: str | None, gpus: float) -> None:
    if engine not in ("local", "ray"):
        raise CompactError(f"unknown engine {engine!r}: choose local or ray")
    if engine == "local" and (address is not None or gpus):
        raise CompactError("--address and --gpus-per-worker need --engine ray")


def _single(src: Path, output: Path | None, mode: str, model: str, backend: str, force: bool,
            max_pixels: int, quality: int | None = None) -> None:  # fmt: skip
    """One file: -o FILE, -o FOLDER or beside the input; an existing output needs --force."""
    from compact import batch
    from compact.codec import Codec

    job = batch.Job(src, _single_output(src, output, ".cpt" if mode == "compress" else ".png"))
    if job.dst.exists() and not force:
        raise CompactError(f"{job.dst} exists (use --force to overwrite)")
    if not src.is_file():
        raise CompactError(f"no such file: {src}")
    codec = Codec(model, backend, max_pixels=max_pixels or None, quality=quality)
    _, size_out = batch.process(job, mode, codec)
    typer.echo(f"{src} -> {job.dst} ({size_out} bytes)")


def _dispatch(mode: str, inputs: list[str], output: str | None, model: str, backend: str, force: bool,
              jobs: int | None, max_pixels: int, quality: int | None, engine: str, address: str | None,
              gpus: float) -> None:  # fmt: skip
    """One file, several or folders, on the local engine or Ray: the same choice for both directions."""
    _check_engine(engine, address, gpus)
    paths, out = [Path(i) for i in inputs], Path(output) if output is not None else None
    if engine == "ray":
        _distributed(inputs, output, mode, model, backend, jobs, force, max_pixels, quality, address, gpus)
    elif len(paths) > 1 or paths[0].is_dir():
        _batch(paths, out, mode, model, backend, jobs, force, max_pixels, quality)
    else:
        _single(paths[0], out, mode, model, backend, force, max_pixels, quality)


@app.command()
@handles_errors
def compress(
    images: Annotated[list[str], typer.Argument(help="Images or folders (PNG, JPEG, ... anything Pillow reads).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output file (one image) or folder.")] = None,
    model: ModelOpt = "default",
    backend: BackendOpt = "auto",
    force: ForceOpt = False,
    jobs: JobsOpt = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    quality: QualityOpt = None,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    gpus: GpusOpt = 0.0,
) -> None:
    """Compress images to .cpt files; folders are walked and mirrored into -o, resumably.

    Example: compact compress photo.png -o photo.cpt -q 3     or     compact compress photos/ -o compressed/
    """
    _dispatch("compress", images, output, model, backend, force, jobs, max_pixels, quality, engine, address, gpus)


@app.command()
@handles_errors
def decompress(
    files: Annotated[list[str], typer.Argument(help=".cpt files or folders of them.")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output image (one file) or folder.")] = None,
    model: ModelOpt = "default",
    backend: BackendOpt = "auto",
    force: ForceOpt = False,
    jobs: JobsOpt = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    gpus: GpusOpt = 0.0,
) -> None:
    """Decode .cpt files to PNG images (with alpha and ICC profile when the stream has them).

    Example: compact decompress photo.cpt -o photo.png     or     compact decompress compressed/ -o decoded/
    """
    _dispatch("decompress", files, output, model, backend, force, jobs, max_pixels, None, engine, address, gpus)


@app.command()
@handles_errors
def run(
    images: Annotated[list[Path], typer.Argument(help="Images to round-trip.")],
    backend: BackendOpt = "auto",
    model: ModelOpt = "default",
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the reconstructions.")] = Path("."),
    force: ForceOpt = False,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    quality: QualityOpt = None,
) -> None:
    """Compress and decompress images, write the reconstructions and report size, quality and time.

    Example: compact run --backend onnx photo.png   (writes ./photo.compact.png)
    """
    from compact.codec import Codec, as_picture
    from compact.image import save_image
    from compact.metrics import psnr

    if not output.is_dir():
        raise CompactError(f"output folder {output} does not exist")
    codec = Codec(model, backend, quality=quality)
    coding = "entropy-coded when smaller" if codec.context is not None else "raw bits (no context model)"
    config = codec.bundle.manifest.config
    level = quality or config.default_quality
    typer.echo(
        f"backend {codec.backend.name}, model {codec.model_id}, quality {level}/{config.qualities} "
        f"({config.channels_for(level)} channels), streams {coding}"
    )
    for src in images:
        dst = output / f"{src.stem}.compact.png"
        if dst.exists() and not force:
            raise CompactError(f"{dst} exists (use --force to overwrite)")
        picture = as_picture(src, max_pixels or None)
        data = codec.compress(picture)
        rec = codec.decompress_picture(data)
        save_image(rec, dst, force=force)
        rgb, rec = picture.rgb, rec.rgb
        h, w = rgb.shape[:2]
        typer.echo(
            f"{src}: {w}x{h}, {len(data)} bytes (container v{data[4]}), {8 * len(data) / (w * h):.4f} bpp, "
            f"{3 * w * h / len(data):.0f}x smaller than raw 24-bit RGB, PSNR {psnr(rgb, rec):.2f} dB, "
            f"encode {codec.timings['encode']:.0f} ms, decode {codec.timings['decode']:.0f} ms "
            f"(networks; the first image includes session start-up) -> {dst}"
        )


@app.command()
@handles_errors
def info(file: Annotated[Path, typer.Argument(help="A .cpt file.")]) -> None:
    """Show the header of a .cpt file and check its CRC.

    Example: compact info photo.cpt
    """
    from compact import container

    data = _read(file)
    header, _, extensions = container.read(data)
    rows = {
        "version": header.version,
        "flags": f"0x{header.flags:02x}",
        "model id": header.model_id_hex,
        "payload": "entropy-coded, context model " + header.context_id.hex()
        if header.version == container.ENTROPY_CODED
        else "raw packed bits",
        "image": f"{header.width}x{header.height}",
        "latent (C x h x w)": "x".join(map(str, header.latent_shape)),
        "payload bytes": header.payload_size,
        "alpha": f"{len(extensions.alpha)} bytes (lossless PNG)" if extensions.alpha is not None else "none",
        "icc profile": f"{len(extensions.icc)} bytes" if extensions.icc is not None else "none",
        "file bytes": len(data),
        "bits per pixel": f"{8 * len(data) / (header.width * header.height):.4f}",
        "crc32": "ok",
    }
    for key, value in rows.items():
        typer.echo(f"{key:>20}: {value}")


@app.command()
@handles_errors
def web(
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 8765,
    model: ModelOpt = "default",
) -> None:
    """Serve a page that decodes .cpt files (and compresses images) in the browser, with onnxruntime-web.

    Needs the build step once: compact/runtimes/web/build.sh (npm ci). Example: compact web --port 8765
    """
    from compact.web import serve

    serve(port, model)


@app.command()
@handles_errors
def export(
    target: Annotated[str, typer.Option("--target", "-t", help="onnx, coreml or all.")] = "all",
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", "-c", help="weights .safetensors or training folder.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")] = Path("compact-model"),
    precision: Annotated[str, typer.Option("--precision", help="Core ML compute precision: fp16 or fp32.")] = "fp16",
    int8_decoder: Annotated[
        Path | None, typer.Option("--int8-decoder", help="Also write an int8 decoder, calibrated on these photos.")
    ] = None,
) -> None:
    """Export encoder and decoder separately to ONNX and/or Core ML, with a manifest.

    Example: compact export --target all --checkpoint runs/n64 --out my-model
    """
    modules = ["torch", "safetensors", "onnx", "onnxscript"] + (["coremltools"] if target != "onnx" else [])
    _require("export", *modules)
    from compact.export.bundle import export_model
    from compact.manifest import default_model_dir

    if precision not in ("fp16", "fp32"):
        raise CompactError(f"unknown precision {precision!r}: choose fp16 or fp32")
    source = checkpoint if checkpoint is not None else default_model_dir() / "weights.safetensors"
    if int8_decoder is not None and target == "coreml":
        raise CompactError("--int8-decoder quantizes the ONNX decoder: use --target onnx or all")
    manifest = export_model(source, out, target, precision, int8_decoder)
    typer.echo(f"exported model {manifest.model_id} to {out}:")
    for role, rel in sorted(manifest.files.items()):
        typer.echo(f"  {role:>15}: {out / rel}")
    typer.echo(f"  {'manifest':>15}: {out / 'manifest.json'}")


@app.command()
@handles_errors
def parity(
    images: Annotated[list[Path], typer.Argument(help="Images to compare on.")],
    model: ModelOpt = "default",
) -> None:
    """Compare every runtime this machine can run against the torch reference, on your images.

    Runs onnxruntime, Core ML (macOS) and the numpy reference of the exported Core ML programs (any OS) and
    prints, per image: latent max abs diff, flipped code bits, decoder PSNR vs torch on the same bits.
    Exits 1 if a row misses its bounds (fp32: >= 60 dB and <= 1e-4 flipped; fp16: >= 40 dB and <= 1e-3).

    Example: compact parity --model my-model kodim01.png kodim02.png
    """
    _require("train", "torch", "safetensors")
    from compact.codec import as_rgb
    from compact.manifest import resolve_model
    from compact.parity import BOUNDS, compare
    from compact.runtimes import get_backend, unavailable_reason

    bundle = resolve_model(model)
    reference = get_backend("torch", bundle)
    candidates, skipped = [], []
    for name in ("onnx", "onnx-int8", "coreml"):
        reason = unavailable_reason(name, bundle)
        if reason is None:
            precision = {"onnx": "fp32", "onnx-int8": "int8"}.get(name) or bundle.manifest.coreml.get("precision")
            candidates.append((get_backend(name, bundle), str(precision)))
        else:
            skipped.append(f"{name}: {reason}")
    if bundle.has("coreml_encoder") and importlib.util.find_spec("coremltools") is not None:
        from compact.export.mil_reference import MilReferenceBackend

        mil = MilReferenceBackend(bundle)
        candidates.append((mil, mil.precision))
    else:
        skipped.append("coreml-reference: needs coremltools and a Core ML export (compact export --target coreml)")
    typer.echo(f"model {bundle.manifest.model_id}; reference: torch")
    header = f"{'image':<20} {'backend':<17} {'prec':<5} {'max|dlatent|':>12} {'flipped bits':>16} {'dec PSNR':>9}  ok"
    typer.echo(header)
    failed = 0
    for path in images:
        rgb = as_rgb(path)
        for backend, precision in candidates:
            row = compare(reference, backend, rgb, path.name, precision)
            failed += not row.ok
            flips = f"{row.flipped_bits}/{row.total_bits}"
            typer.echo(f"{row.image:<20} {row.backend:<17} {row.precision:<5} {row.latent_max_abs_diff:>12.2e} "
                       f"{flips:>16} {row.decoder_psnr:>8.2f}  {'yes' if row.ok else 'NO'}")  # fmt: skip
    for line in skipped:
        typer.echo(f"skipped {line}")
    bounds = ", ".join(f"{p}: >= {b.min_decoder_psnr:g} dB, <= {b.max_flipped:g} flipped" for p, b in BOUNDS.items())
    typer.echo(f"bounds {bounds}")
    if failed:
        raise CompactError(f"{failed} comparison(s) outside the parity bounds")


@app.command()
@handles_errors
def bench(
    data: Annotated[Path, typer.Option("--data", help="A Kodak image, or a folder (its first PNG is used).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for bench.json, bench.md and test images.")] = Path(
        "bench-results"
    ),
    model: ModelOpt = "default",
    backends: Annotated[str, typer.Option(help="Comma-separated backends to time.")] = "torch,onnx",
    repeat: Annotated[int, typer.Option(help="Timed runs per measurement (median reported).")] = 5,
    threads: Annotated[int | None, typer.Option(help="Threads per backend (default: all cores).")] = None,
) -> None:
    """Time encode/decode of every backend on a Kodak image, a 720p frame and a 12 MP photo.

    Reports medians, Mpixel/s, peak RSS, GFLOP/s against a GEMM peak measured in the same run, and Pillow's
    JPEG/WebP/AVIF on the same images. Writes bench.json and bench.md.

    Example: compact bench --data ../shared/data/kodak --out bench-results
    """
    from compact.bench import run as run_bench

    if not data.exists():
        raise CompactError(f"no such file or folder: {data}")
    result = run_bench(data, out, model, tuple(b.strip() for b in backends.split(",") if b.strip()), repeat, threads)
    typer.echo((out / "bench.md").read_text())
    typer.echo(f"wrote {out / 'bench.json'} and {out / 'bench.md'} ({len(result['rows'])} rows)")


@app.command("eval")
@handles_errors
def eval_command(
    data: Annotated[Path, typer.Option("--data", help="Folder of test images (e.g. Kodak); never training data.")],
    codecs: Annotated[str, typer.Option(help="Comma-separated: compact,jpeg,webp,avif,jpeg2000.")] = (
        "compact,jpeg,webp,avif,jpeg2000"
    ),
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for CSV, JSON, markdown and plots.")] = Path(
        "eval-results"
    ),
    model: ModelOpt = "default",
    backend: BackendOpt = "auto",
    force: ForceOpt = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes, one image each at a time.")] = 1,
) -> None:
    """Rate-distortion of COMPACT (every quality level) against JPEG, WebP, AVIF and JPEG 2000 sweeps.

    Writes per_image.csv, summary.json, summary.md (the README's tables), rd_psnr.png and rd_msssim.png.

    Example: compact eval --data ../shared/data/kodak --out eval-results
    """
    _require("eval", "torch", "pytorch_msssim", "bjontegaard", "matplotlib")
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from compact.evaluation.run import run_eval

    names = [c.strip() for c in codecs.split(",") if c.strip()]
    columns = (TextColumn("[bold]eval {task.fields[what]}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} images"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("eval", total=None, what="")
        summary = run_eval(
            data, names, out, model, backend, force, max(1, jobs),
            on_start=lambda total: bar.update(task, total=total),
            progress=lambda name: bar.update(task, advance=1, what=name),
        )  # fmt: skip
    typer.echo((out / "summary.md").read_text())
    typer.echo(f"wrote {', '.join(sorted(p.name for p in out.iterdir() if not p.name.startswith('.')))} in {out} "
               f"({summary['images']} images)")  # fmt: skip


@app.command("fit-context")
@handles_errors
def fit_context_command(
    data: Annotated[Path, typer.Option("--data", help="Folder tree of training photos (never the test set).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model folder to add the context model to.")],
    max_images: Annotated[int | None, typer.Option(help="Use at most this many images.")] = None,
    backend: BackendOpt = "auto",
) -> None:
    """Fit the entropy coder's context model for a model folder, so compress writes smaller streams.

    Example: compact fit-context --data ../shared/data/train --model my-model
    """
    from compact.codec import Codec
    from compact.context_fit import fit_context

    codec = Codec(model, backend)
    fitted = fit_context(codec, data, max_images)
    typer.echo(f"context model {fitted.context_id} written to {codec.bundle.root}")


@app.command()
@handles_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="Folder tree of JPEG/PNG training photos.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for checkpoints.")],
    steps: Annotated[int, typer.Option(help="Total optimizer steps.")] = 20_000,
    batch_size: Annotated[int, typer.Option(help="Crops per step.")] = 8,
    crop: Annotated[int, typer.Option(help="Square crop size in pixels (multiple of 16).")] = 128,
    lr: Annotated[float, typer.Option(help="Adam learning rate (decayed x0.3 at 70% and 90%).")] = 1e-4,
    channels: Annotated[int, typer.Option(help="Width N of the hidden layers.")] = 64,
    latent_channels: Annotated[int, typer.Option(help="Binary planes C (16 = 0.0625 bpp).")] = 16,
    levels: Annotated[
        str | None,
        typer.Option(help="Quality levels as channel counts, e.g. 8,16,32,64 (nested channel dropout; last = C)."),
    ] = None,
    init: Annotated[Path | None, typer.Option(help="Warm-start from these weights (overlapping slices).")] = None,
    val: Annotated[Path | None, typer.Option(help="Validation folder (default: hold out 5% of --data).")] = None,
    val_every: Annotated[int, typer.Option(help="Steps between validations.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the state in --out.")] = False,
) -> None:
    """Train a COMPACT model (CPU, or CUDA/MPS when present); checkpoints are safetensors.

    Example: compact train --data ../shared/data/train --out runs/n64 --steps 20000
    """
    _require("train", "torch", "safetensors")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from compact.config import ModelConfig
    from compact.training.train import TrainConfig
    from compact.training.train import train as run_training

    if crop < 16 or crop % 16:
        raise CompactError(f"--crop must be a positive multiple of 16, got {crop}")
    if steps < 1 or batch_size < 1 or val_every < 1:
        raise CompactError("--steps, --batch-size and --val-every must be positive")
    try:
        level_list = tuple(int(v) for v in levels.split(",")) if levels else ()
        model_config = ModelConfig(channels=channels, latent_channels=latent_channels, levels=level_list)
    except ValueError as exc:
        raise CompactError(f"--levels: {exc}") from exc
    cfg = TrainConfig(
        data=data, out=out, steps=steps, batch_size=batch_size, crop=crop, lr=lr, model=model_config,
        val=val, val_every=val_every, seed=seed, threads=threads, resume=resume, init=init,
    )  # fmt: skip
    columns = (
        TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.5f}  PSNR {task.fields[psnr]:.2f} dB  "
                   "val {task.fields[val]}  {task.fields[speed]:.2f} steps/s"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns) as progress:
        task = progress.add_task("train", total=steps, loss=0.0, psnr=0.0, val="-", speed=0.0)

        def report(step: int, m: dict[str, float]) -> None:
            val_txt = f"{m['val_psnr']:.2f} dB" if "val_psnr" in m else progress.tasks[task].fields["val"]
            progress.update(task, completed=step, loss=m["loss"], psnr=m["psnr"], val=val_txt,
                            speed=m["steps_per_s"])  # fmt: skip

        result = run_training(cfg, report)
    typer.echo(f"done: best validation PSNR {result['best_val_psnr']:.2f} dB; weights in {out}")


def main() -> None:
    app(prog_name="compact")


if __name__ == "__main__":
    sys.exit(main())
