"""Commands for people making models: train, export, fit-context and parity."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compact.cli.common import BackendOpt, ModelOpt, handles_errors, int_list, require
from compact.config import ModelConfig
from compact.errors import CompactError

if TYPE_CHECKING:
    from compact.parity import ParityReport
    from compact.training.train import TrainConfig

app = typer.Typer()


@app.command()
@handles_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="Folder tree of JPEG/PNG training photos.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for checkpoints.")],
    steps: Annotated[int, typer.Option(min=1, help="Total optimizer steps.")] = 20_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Crops per step.")] = 8,
    crop: Annotated[int, typer.Option(min=16, help="Square crop size in pixels (multiple of 16).")] = 128,
    lr: Annotated[float, typer.Option(help="Adam learning rate (x0.3 at 70% and 90%, or at --decay-at).")] = 3e-4,
    channels: Annotated[int, typer.Option(min=1, help="Width N of the hidden layers.")] = 64,
    latent_channels: Annotated[int, typer.Option(min=1, help="Binary planes C (16 = 0.0625 bpp).")] = 16,
    levels: Annotated[
        str | None,
        typer.Option(help="Quality levels as channel counts, e.g. 8,16,32,64 (nested channel dropout; last = C)."),
    ] = None,
    encoder_widths: Annotated[
        str | None, typer.Option(help="5 encoder hidden widths, e.g. 64,96,128,192,192 (default: N each).")
    ] = None,
    decoder_widths: Annotated[
        str | None, typer.Option(help="5 decoder hidden widths, e.g. 192,192,128,96,64 (default: N each).")
    ] = None,
    smooth_upsampling: Annotated[
        bool,
        typer.Option("--smooth-upsampling", help="Fixed binomial low-pass after the decoder's inner pixel "
                     "shuffles: removes the grid of periods 4-16 px."),
    ] = False,
    init: Annotated[Path | None, typer.Option(help="Warm-start from these weights (overlapping slices).")] = None,
    val: Annotated[Path | None, typer.Option(help="Validation folder (default: hold out 5% of --data).")] = None,
    val_every: Annotated[int, typer.Option(min=1, help="Steps between validations.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Restart over an existing run in --out.")] = False,
    precision: Annotated[
        str,
        typer.Option(help="fp32; bf16 (convolutions under bf16 autocast; GDN and loss in fp32); or auto (bf16 "
                     "where the CPU or GPU computes it natively, else fp32)."),
    ] = "fp32",
    channels_last: Annotated[bool, typer.Option(help="NHWC activations (faster on CPU).")] = True,
    ema: Annotated[float, typer.Option(help="Decay of the validated, shipped weight average (0: off).")] = 0.999,
    clip: Annotated[float, typer.Option(min=0.0, help="Clip the gradient norm to this (0: off).")] = 1.0,
    sign_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of samples trained with inference (sign) bits.")
    ] = 0.0,
    flat_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of crops replaced by a synthetic flat colour or gradient.")
    ] = 0.0,
    rate_weight: Annotated[
        float, typer.Option(min=0.0, help="Weight of the rate term (bpp under the learnt context table; 0: off).")
    ] = 0.0,
    rate_exponent: Annotated[
        float, typer.Option(help="Per level, the rate weight times (first level / planes sent) ** this.")
    ] = 0.0,
    context_table: Annotated[
        Path | None,
        typer.Option(help="A context.json to start the rate term's table from (its layout and parents; "
                     "e.g. a model's layout 2 table). Default: layout 1, fitted to the model's bits."),
    ] = None,
    grid_weight: Annotated[
        float, typer.Option(min=0.0, help="Weight of the grid penalty (error repeating every 4 or 8 px; 0: off).")
    ] = 0.0,
    freeze_encoder: Annotated[
        bool, typer.Option("--freeze-encoder", help="Train the decoder alone (the code and its rate stay as they are).")
    ] = False,
    until: Annotated[
        int | None, typer.Option(min=1, help="Stop after this step (the schedule still follows --steps).")
    ] = None,
    decay_at: Annotated[
        str | None, typer.Option(help="Steps where the learning rate drops x0.3, e.g. 86000,130000.")
    ] = None,
) -> None:
    """Train a COMPACT model (CPU, or CUDA/MPS when present); checkpoints are safetensors.

    Example: compact train --data ../shared/data/train --out runs/n64 --steps 20000
    """
    require("train", "torch", "safetensors")
    import torch

    from compact.training.precision import choose
    from compact.training.train import TrainConfig, pick_device

    if crop % 16:
        raise CompactError(f"--crop must be a multiple of 16, got {crop}")
    widths = int_list(encoder_widths, "--encoder-widths"), int_list(decoder_widths, "--decoder-widths")
    model = ModelConfig(channels, latent_channels, levels=int_list(levels, "--levels"), encoder_widths=widths[0],
                        decoder_widths=widths[1], smooth_upsampling=smooth_upsampling)  # fmt: skip
    if threads:
        torch.set_num_threads(threads)  # this process's setting; the library leaves torch's globals alone
    cfg = TrainConfig(
        data=data, out=out, steps=steps, batch_size=batch_size, crop=crop, lr=lr, model=model, val=val,
        val_every=val_every, seed=seed, threads=threads, resume=resume, force=force, init=init,
        precision=precision, channels_last=channels_last, ema=ema, clip=clip, sign_fraction=sign_fraction,
        flat_fraction=flat_fraction, rate_weight=rate_weight, rate_exponent=rate_exponent, until=until,
        decay_at=int_list(decay_at, "--decay-at"), grid_weight=grid_weight, freeze_encoder=freeze_encoder,
        context_table=context_table,
    )  # fmt: skip
    arithmetic = choose(precision, pick_device())  # shown here; train() resolves it the same way, and warns
    typer.echo(f"precision: {arithmetic.name} ({arithmetic.reason})")
    result = _train_with_progress(cfg)
    typer.echo(f"done: best validation PSNR {result['best_val_psnr']:.2f} dB; weights in {out}")


def _train_with_progress(cfg: TrainConfig) -> dict[str, float]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from compact.training.train import train as run_training

    columns = (
        TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.5f}  PSNR {task.fields[psnr]:.2f} dB  "
                   "val {task.fields[val]}  {task.fields[speed]:.2f} steps/s"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns) as progress:
        task = progress.add_task("train", total=cfg.steps, loss=0.0, psnr=0.0, val="-", speed=0.0)

        def report(step: int, m: dict[str, float]) -> None:
            val_txt = f"{m['val_psnr']:.2f} dB" if "val_psnr" in m else progress.tasks[task].fields["val"]
            if "val_psnr" in m:  # a line that stays, also where the bar is not drawn (output to a file)
                progress.console.print(validation_line(step, m), highlight=False, soft_wrap=True)
            progress.update(task, completed=step, loss=m["loss"], psnr=m["psnr"], val=val_txt,
                            speed=m["steps_per_s"])  # fmt: skip

        try:
            return run_training(cfg, report)
        except KeyboardInterrupt:
            raise CompactError(f"interrupted: the run is saved every {cfg.checkpoint_every} steps; continue it "
                               f"with: {resume_command(sys.argv)}") from None  # fmt: skip


def validation_line(step: int, m: dict[str, float]) -> str:
    """One validation as a line: PSNR (and, where logged, the grid score and bpp) per level."""
    def per_level(prefix: str, fmt: str) -> str:
        return "/".join(format(v, fmt) for k, v in m.items() if k.startswith(prefix))

    parts = [f"step {step}", f"val {m['val_psnr']:.2f} dB ({per_level('val_psnr_c', '.2f')})"]
    if grid := per_level("val_grid_c", ".1f"):
        parts.append(f"grid {grid}")
    if bpp := per_level("val_bpp_c", ".4f"):
        parts.append(f"bpp {bpp}")
    parts.append(f"{m['steps_per_s']:.2f} steps/s")
    return "  ".join(parts)


def resume_command(argv: list[str]) -> str:
    """The command line that continues an interrupted ``compact train``: the same, with --resume for --force."""
    args = [a for a in argv[1:] if a not in ("--force", "--resume")]
    return shlex.join(["compact", *args, "--resume"])


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
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Run parity on the written files; refuse them if it fails.")
    ] = True,
    learnt_context: Annotated[
        Path | None,
        typer.Option(help="A run's rate.safetensors: its learnt table becomes the context model (no fit needed)."),
    ] = None,
) -> None:
    """Export encoder and decoder separately to ONNX and/or Core ML, with a manifest.

    Before it finishes, every runtime this machine can run (onnxruntime; Core ML through its numpy reference
    on Linux, predict on macOS) is compared with torch on the written files at 1x1, 100x130 and 333x17 pixels;
    if a parity bound fails nothing is written (--no-check skips this).

    Example: compact export --target all --checkpoint runs/n64 --out my-model
    """
    modules = ["torch", "safetensors", "onnx", "onnxscript"] + (["coremltools"] if target != "onnx" else [])
    require("export", *modules)
    from compact.export.bundle import export_model
    from compact.manifest import default_model_dir

    source = checkpoint if checkpoint is not None else default_model_dir() / "weights.safetensors"
    manifest = export_model(source, out, target, precision, int8_decoder, check, on_check=_show_check,
                            learnt_context=learnt_context)
    typer.echo(f"exported model {manifest.model_id} to {out}:")
    for role, rel in sorted(manifest.files.items()):
        typer.echo(f"  {role:>15}: {out / rel}")
    typer.echo(f"  {'manifest':>15}: {out / 'manifest.json'}")


def _show_check(report: ParityReport) -> None:
    backends = ", ".join(dict.fromkeys(row.backend for row in report.rows)) or "no runtime"
    sizes = ", ".join(dict.fromkeys(row.image for row in report.rows))
    typer.echo(f"checked against torch: {backends} at {sizes}: all {len(report.rows)} within the parity bounds")
    for line in report.skipped:
        typer.echo(f"  not checked here: {line}")


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
    require("train", "torch", "safetensors")
    from compact.manifest import resolve_model
    from compact.parity import BOUNDS, ParityRow, run_parity

    header = f"{'image':<20} {'backend':<17} {'prec':<5} {'max|dlatent|':>12} {'flipped bits':>16} {'dec PSNR':>9}  ok"

    def show(row: ParityRow) -> None:
        flips = f"{row.flipped_bits}/{row.total_bits}"
        typer.echo(f"{row.image:<20} {row.backend:<17} {row.precision:<5} {row.latent_max_abs_diff:>12.2e} "
                   f"{flips:>16} {row.decoder_psnr:>8.2f}  {'yes' if row.ok else 'NO'}")  # fmt: skip

    bundle = resolve_model(model)
    typer.echo(f"model {bundle.manifest.model_id}; reference: torch")
    typer.echo(header)
    report = run_parity([(path.name, path) for path in images], bundle, show)
    for line in report.skipped:
        typer.echo(f"skipped {line}")
    bounds = ", ".join(f"{p}: >= {b.min_decoder_psnr:g} dB, <= {b.max_flipped:g} flipped" for p, b in BOUNDS.items())
    typer.echo(f"bounds {bounds}")
    if report.failures:
        raise CompactError(f"{report.failures} comparison(s) outside the parity bounds")


@app.command("fit-context")
@handles_errors
def fit_context_command(
    data: Annotated[Path, typer.Option("--data", help="Folder tree of training photos (never the test set).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model folder to add the context model to.")],
    max_images: Annotated[int | None, typer.Option(min=1, help="Use at most this many images.")] = None,
    backend: BackendOpt = "auto",
    force: Annotated[bool, typer.Option("--force", help="Replace the folder's existing context model (it is kept "
                                        "in the folder, so the streams coded with it still decode).")] = False,
    layout: Annotated[int, typer.Option(min=1, max=2, help="2: each channel's context channels are searched on "
                                        "the photos (smaller streams); 1: the four channels below.")] = 2,
) -> None:
    """Fit the entropy coder's context model for a model folder, so compress writes smaller streams.

    Example: compact fit-context --data ../shared/data/train --model my-model
    """
    from compact.codec import Codec
    from compact.context_fit import fit_context

    codec = Codec(model, backend)
    fitted = fit_context(codec, data, max_images, force=force, layout=layout)
    typer.echo(f"context model {fitted.context_id} written to {codec.bundle.root}")
