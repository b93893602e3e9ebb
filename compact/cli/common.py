"""What every command shares: one-line errors, extras checks and the option definitions."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from compact.errors import CompactError, MissingExtraError
from compact.picture import DEFAULT_MAX_PIXELS

F = TypeVar("F", bound=Callable[..., None])


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def handles_errors(func: F) -> F:
    """Turn the project's errors (and I/O errors) into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            func(*args, **kwargs)
        except CompactError as exc:
            fail(str(exc))
        except BrokenPipeError:
            # The reader went away (compact info f.cpt | head -2): stop quietly, as shell tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(code=1) from None
        except OSError as exc:
            fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        except KeyboardInterrupt:
            typer.echo("interrupted: finished outputs are kept; run the same command again to resume", err=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def require(extra: str, *modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f'this command needs {", ".join(missing)}: pip install "compact[{extra}]"')


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CompactError(f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise CompactError(f"{path} is a folder, not a file") from exc


def int_list(text: str | None, option: str) -> tuple[int, ...]:
    """ "8,16,32" -> (8, 16, 32); a usage error names the option."""
    try:
        return tuple(int(v) for v in text.split(",")) if text else ()
    except ValueError as exc:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=option) from exc


def option(kind: Any, *names: str, **settings: Any) -> Any:
    """An option type for command signatures: ``kind`` and typer's option settings, declared once here."""
    return Annotated[kind, typer.Option(*names, **settings)]


ModelOpt = option(str, "--model", "-m", help="Model folder with a manifest.json, or 'default'.")
BackendOpt = option(str, "--backend", "-b", help="auto, onnx, onnx-int8, coreml, coreml-reference or torch.")
ForceOpt = option(bool, "--force", "-f", help="Overwrite existing outputs.")
QualityOpt = option(int | None, "--quality", "-q", min=1, help="Quality level 1..L of the model (more code "
                    "channels); default: the paper's 16-channel point when the model has it.")  # fmt: skip
RefineOpt = option(int, "--refine", min=0, help="Steps of encoder-side refinement: a code the decoder draws "
                   "better, at about 1.4 s per step per megapixel on one CPU core with native bf16 (2-3 s "
                   "without); needs torch (the train extra), decoders need nothing new. 0 = off; 50 is the "
                   "tuned setting, and fewer steps take larger ones (20 keeps most of the gain); pictures "
                   "over 4 MP are searched one 1024-px tile at a time.")  # fmt: skip
FrameOpt = option(int, "--frame", min=0, help="Of an animation or multi-page file, the frame or page to code.")
JobsOpt = option(int | None, "--jobs", "-j", min=1, help="Worker processes for folders (default: cores); "
                 "--engine ray: actors (default: as many as the cluster fits).")  # fmt: skip
MaxPixelsOpt = option(int, "--max-pixels", min=0, help="Refuse larger images (decompression-bomb guard); 0 = no limit.")
DEFAULT_PIXELS = DEFAULT_MAX_PIXELS
EngineOpt = option(str, "--engine", help="local (a process pool) or ray (a Ray cluster; needs the distributed "
                   "extra, docs/SCALE.md); ray also takes s3://, gs://, ... URLs.")  # fmt: skip
AddressOpt = option(str | None, "--address", help="--engine ray: the cluster (auto, ray://HEAD:10001); default "
                    "$RAY_ADDRESS, else a local Ray instance.")  # fmt: skip
GpusOpt = option(float, "--gpus-per-worker", min=0.0, help="--engine ray: GPUs per actor (CUDA via onnxruntime-gpu).")
