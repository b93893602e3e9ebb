"""Commands that measure: bench (speed and memory) and eval (rate-distortion against other codecs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compact.cli.common import BackendOpt, ModelOpt, RefineOpt, handles_errors, require
from compact.errors import CompactError

app = typer.Typer()


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
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes, one image each at a time.")] = 1,
    refine: RefineOpt = 0,
) -> None:
    """Rate-distortion of COMPACT (every quality level) against JPEG, WebP, AVIF and JPEG 2000 sweeps.

    Writes per_image.csv, summary.json, summary.md (the README's tables), rd_psnr.png and rd_msssim.png;
    a rerun replaces them.

    Example: compact eval --data ../shared/data/kodak --out eval-results
    """
    require("eval", "torch", "pytorch_msssim", "bjontegaard", "matplotlib")
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from compact.evaluation.run import run_eval

    names = [c.strip() for c in codecs.split(",") if c.strip()]
    columns = (TextColumn("[bold]eval {task.fields[what]}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} images"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("eval", total=None, what="")
        summary = run_eval(
            data, names, out, model, backend, jobs, refine=refine,
            on_start=lambda total: bar.update(task, total=total),
            progress=lambda name: bar.update(task, advance=1, what=name),
        )  # fmt: skip
    typer.echo((out / "summary.md").read_text())
    typer.echo(f"wrote {', '.join(sorted(p.name for p in out.iterdir() if not p.name.startswith('.')))} in {out} "
               f"({summary['images']} images)")  # fmt: skip
