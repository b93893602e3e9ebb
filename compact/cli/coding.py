"""Commands for people coding images: compress, decompress, info and run.

No ``from __future__ import annotations`` here: typer reads the option types that _coding_command builds at
run time, which string annotations would hide.
"""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from compact.batch import Job, Summary
from compact.cli.common import (
    DEFAULT_PIXELS,
    AddressOpt,
    BackendOpt,
    EngineOpt,
    ForceOpt,
    FrameOpt,
    GpusOpt,
    JobsOpt,
    MaxPixelsOpt,
    ModelOpt,
    QualityOpt,
    RefineOpt,
    handles_errors,
    read_file,
)
from compact.errors import CompactError
from compact.jobs import Hooks, JobOptions, run_job, single_job
from compact.spec import CodecSpec

app = typer.Typer()


@contextlib.contextmanager
def _progress_bar(mode: str) -> Iterator[Hooks]:
    """Hooks that draw a transient progress bar (bytes and files) and print each failure as it happens."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn(f"[bold]{mode}"), BarColumn(), TextColumn("{task.fields[files]} files"),
               TextColumn("{task.percentage:>3.0f}%"), TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(mode, total=None, files="0/?")
        state = {"count": 0, "total": 0}

        def on_plan(plan: list[Job]) -> None:
            state["total"] = len(plan)
            bar.update(task, total=sum(job.src.stat().st_size for job in plan), files=f"0/{len(plan)}")

        def on_file(job: Job, size: int, error: str | None) -> None:
            state["count"] += 1
            bar.update(task, advance=job.src.stat().st_size, files=f"{state['count']}/{state['total']}")
            if error not in (None, "skipped"):
                bar.console.print(f"failed: {job.src}: {error}", style="red", highlight=False)

        yield Hooks(on_plan, on_file)


def _report(summary: Summary, mode: str) -> None:
    """The summary line of a batch run, then every failure; failures make the exit status 1."""
    mb = summary.bytes_in / 1e6
    typer.echo(f"{mode}: {summary.done} done, {summary.skipped} already done, {len(summary.failed)} failed; "
               f"{mb:.1f} MB in, {summary.bytes_out / 1e6:.2f} MB out, {summary.seconds:.1f} s "
               f"({mb / max(summary.seconds, 1e-9):.1f} MB/s)")  # fmt: skip
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    if summary.ignored:
        shown = ", ".join(str(p) for p in summary.ignored[:10])
        more = f" and {len(summary.ignored) - 10} more" if len(summary.ignored) > 10 else ""
        typer.echo(f"not tried (not a type Pillow opens here): {len(summary.ignored)} files: {shown}{more}")
    for src, error in summary.failed:
        typer.echo(f"failed: {src}: {error}", err=True)
    if summary.failed:
        total = summary.done + summary.skipped + len(summary.failed)
        raise CompactError(f"{len(summary.failed)} of {total} files failed")


def _piped(mode: str, inputs: list[str], output: str | None, spec: CodecSpec, force: bool) -> None:
    """``-`` as the input reads standard input; ``-o -`` (or no -o after a ``-`` input) writes standard output."""
    import sys

    from compact.files import check_overwrite, write_atomic
    from compact.jobs import code_bytes

    if len(inputs) != 1:
        raise CompactError("'-' (standard input or output) works with exactly one input")
    src = inputs[0]
    if output in (None, "-") and sys.stdout.isatty():
        raise CompactError("refusing to write binary data to a terminal: pipe it, or give -o FILE")
    data = sys.stdin.buffer.read() if src == "-" else read_file(Path(src))
    if output not in (None, "-"):
        check_overwrite(Path(output), force)
    coded = code_bytes(mode, data, spec, "<stdin>" if src == "-" else src)
    if output in (None, "-"):
        sys.stdout.buffer.write(coded)
        sys.stdout.buffer.flush()
    else:
        write_atomic(Path(output), coded, force=force)


def _code(mode: str, inputs: list[str], output: str | None, spec: CodecSpec, options: JobOptions) -> None:
    """One file prints where it went; batches and Ray jobs print a summary."""
    if "-" in inputs or output == "-":
        _piped(mode, inputs, output, spec, options.force)
        return
    single = options.engine == "local" and len(inputs) == 1 and not Path(inputs[0]).is_dir()
    if single:
        summary = run_job(mode, inputs, output, spec, options)
        for note in summary.notes:
            typer.echo(f"note: {note}", err=True)
        job = single_job(Path(inputs[0]), Path(output) if output is not None else None, mode)
        if summary.skipped:
            typer.echo(f"{job.dst} is already complete: nothing to do (--force redoes it)")
        else:
            typer.echo(f"{job.src} -> {job.dst} ({job.dst.stat().st_size} bytes)")
        return
    with _progress_bar(mode) as hooks:
        summary = run_job(mode, inputs, output, spec, options, hooks)
    _report(summary, mode)


def _coding_command(mode: str, sources: str, output_help: str, doc: str) -> Callable[..., None]:
    """compress and decompress: one signature (decompress reads the quality from the stream)."""
    sources_arg = Annotated[list[str], typer.Argument(help=sources)]
    output_opt = Annotated[str | None, typer.Option("--output", "-o", help=output_help)]
    quality_opt = QualityOpt if mode == "compress" else Annotated[int | None, typer.Option("--quality", hidden=True)]
    frame_opt = FrameOpt if mode == "compress" else Annotated[int, typer.Option("--frame", hidden=True)]
    refine_opt = RefineOpt if mode == "compress" else Annotated[int, typer.Option("--refine", hidden=True)]

    def command(
        paths: sources_arg,
        output: output_opt = None,
        model: ModelOpt = "default",
        backend: BackendOpt = "auto",
        force: ForceOpt = False,
        jobs: JobsOpt = None,
        max_pixels: MaxPixelsOpt = DEFAULT_PIXELS,
        quality: quality_opt = None,
        frame: frame_opt = 0,
        refine: refine_opt = 0,
        engine: EngineOpt = "local",
        address: AddressOpt = None,
        gpus: GpusOpt = 0.0,
    ) -> None:
        if mode == "decompress" and (quality is not None or frame or refine):
            raise CompactError("--quality, --frame and --refine are for compress: a stream holds one picture at "
                               "one quality")  # fmt: skip
        spec = CodecSpec(model, backend, quality, max_pixels, frame, refine)
        _code(mode, paths, output, spec, JobOptions(engine, jobs, force, address, gpus))

    command.__doc__ = doc
    command.__name__ = mode
    return handles_errors(command)


app.command("compress")(_coding_command(
    "compress", "Images or folders (PNG, JPEG, ... anything Pillow reads).", "Output file (one image) or folder.",
    """Compress images to .cpt files; folders are walked and mirrored into -o, resumably.

    Example: compact compress photo.png -o photo.cpt -q 3     or     compact compress photos/ -o compressed/
    """,
))  # fmt: skip
app.command("decompress")(_coding_command(
    "decompress", ".cpt files or folders of them.", "Output image (one file) or folder.",
    """Decode .cpt files to PNG images (with alpha and ICC profile when the stream has them).

    Example: compact decompress photo.cpt -o photo.png     or     compact decompress compressed/ -o decoded/
    """,
))  # fmt: skip


@app.command()
@handles_errors
def run(
    images: Annotated[list[Path], typer.Argument(help="Images to round-trip.")],
    backend: BackendOpt = "auto",
    model: ModelOpt = "default",
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the reconstructions.")] = Path("."),
    max_pixels: MaxPixelsOpt = DEFAULT_PIXELS,
    quality: QualityOpt = None,
    frame: FrameOpt = 0,
    refine: RefineOpt = 0,
) -> None:
    """Compress and decompress images, write the reconstructions and report size, quality and time.

    The reconstructions (NAME.compact.png) are this command's report: a rerun replaces them.
    Example: compact run --backend onnx photo.png   (writes ./photo.compact.png)
    """
    from compact.roundtrip import RECONSTRUCTION_SUFFIX, round_trip

    if not output.is_dir():
        raise CompactError(f"output folder {output} does not exist")
    codec = CodecSpec(model, backend, quality, max_pixels, frame, refine).codec()
    coding = "entropy-coded when smaller" if codec.context is not None else "raw bits (no context model)"
    config = codec.bundle.manifest.config
    level = quality or config.default_quality
    typer.echo(
        f"backend {codec.backend.name}, model {codec.model_id}, quality {level}/{config.qualities} "
        f"({config.channels_for(level)} channels), streams {coding}"
    )
    inputs = {src.resolve() for src in images if src.exists()}
    for src in images:
        dst = output / f"{src.stem}{RECONSTRUCTION_SUFFIX}"
        if dst.exists() and dst.resolve() in inputs:
            raise CompactError(f"{dst} is one of the inputs: run would replace it; use another --output folder")
        result = round_trip(codec, src, dst, force=True)
        for note in codec.notes:
            typer.echo(f"note: {note}", err=True)
        refined = "" if result.refine_ms is None else f", refine {result.refine_ms:.0f} ms ({refine} steps)"
        typer.echo(
            f"{src}: {result.width}x{result.height}, {result.size} bytes (container v{result.version}), "
            f"{result.bpp:.4f} bpp, {result.ratio:.0f}x smaller than raw 24-bit RGB, PSNR {result.psnr:.2f} dB, "
            f"encode {result.encode_ms:.0f} ms{refined}, decode {result.decode_ms:.0f} ms "
            f"(networks, plus the grid filter in decode; the first image includes session start-up) -> {result.output}"
        )


@app.command()
@handles_errors
def info(
    file: Annotated[Path | None, typer.Argument(help="A .cpt file.")] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Describe a model folder (or 'default') instead.")
    ] = None,
) -> None:
    """Show the header of a .cpt file and check its CRC, or describe a model and its terms.

    Example: compact info photo.cpt     or     compact info --model default
    """
    if (file is None) == (model is None):
        raise typer.BadParameter("give either a .cpt file or --model")
    if model is not None:
        from compact.manifest import describe_model, resolve_model

        rows = describe_model(resolve_model(model))
    else:
        from compact.container import describe

        rows = describe(read_file(file))
    for key, value in rows.items():
        typer.echo(f"{key:>20}: {value}")
