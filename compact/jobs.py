"""Coding jobs in one call: a file, many files or folder trees, on the local engine or a Ray cluster.

``compact compress`` / ``compact decompress`` are thin wrappers of :func:`run_job`; Python users call
:func:`compress_files` and :func:`decompress_files`. One file goes through one Codec; several files or a
folder go through compact.batch (a process pool, resumable); ``engine="ray"`` goes through
compact.distributed (Ray Data, any filesystem pyarrow opens).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from compact import batch
from compact.errors import CompactError, MissingExtraError
from compact.files import check_overwrite
from compact.spec import CodecSpec

ENGINES = ("local", "ray")
MODES = ("compress", "decompress")


@dataclass(frozen=True)
class JobOptions:
    """How a job runs; what it runs with is a :class:`~compact.spec.CodecSpec`."""

    engine: str = "local"  # "local": this machine's cores; "ray": a Ray cluster (the distributed extra)
    workers: int | None = None  # processes (local; default: cores) or actors (ray; default: what fits)
    force: bool = False  # redo and overwrite outputs that exist
    address: str | None = None  # ray: the cluster ("auto", "ray://head:10001"); default $RAY_ADDRESS or local
    gpus: float = 0.0  # ray: GPUs per actor

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise CompactError(f"unknown engine {self.engine!r}: choose local or ray")
        if self.engine == "local" and (self.address is not None or self.gpus):
            raise CompactError("--address and --gpus-per-worker need --engine ray")
        if self.workers is not None and self.workers < 1:
            raise CompactError(f"the number of workers must be at least 1, got {self.workers}")
        if self.gpus < 0:
            raise CompactError(f"GPUs per worker cannot be negative, got {self.gpus}")


@dataclass
class Hooks:
    """Progress callbacks for a local job: the plan once, then every finished (or skipped) file."""

    on_plan: Callable[[list[batch.Job]], None] | None = None
    on_file: batch.Progress | None = None


def output_suffix(mode: str) -> str:
    return batch.STREAM_SUFFIX if mode == "compress" else ".png"


#: decompress writes beside its input under this suffix when no -o is given: never the name of the photo the
#: stream was made from (photo.png -> photo.cpt -> photo.decoded.png)
DECODED_SUFFIX = ".decoded.png"


def single_job(src: Path, output: Path | None, mode: str) -> batch.Job:
    """One file: ``-o FILE``, ``-o FOLDER`` or beside the input."""
    if output is None:
        return batch.Job(src, src.with_suffix(batch.STREAM_SUFFIX if mode == "compress" else DECODED_SUFFIX))
    return batch.Job(src, output / (src.stem + output_suffix(mode)) if output.is_dir() else output)


def run_job(mode: str, inputs: Sequence[str | Path], output: str | Path | None = None,
            spec: CodecSpec | None = None, options: JobOptions | None = None,
            hooks: Hooks | None = None) -> batch.Summary:  # fmt: skip
    """Compress or decompress ``inputs`` (files or folders) into ``output``; returns the summary.

    Failures of single files in a batch are listed in the summary (and in ``output/_compact_failed.jsonl``)
    and do not stop the batch; everything else raises a :class:`~compact.errors.CompactError`.
    """
    if mode not in MODES:
        raise CompactError(f"unknown mode {mode!r}: choose compress or decompress")
    if not inputs:
        raise CompactError("no inputs given")
    spec, options, hooks = spec or CodecSpec(), options or JobOptions(), hooks or Hooks()
    if options.engine == "ray":
        return _ray(mode, [str(i) for i in inputs], output, spec, options)
    paths, out = [Path(i) for i in inputs], Path(output) if output is not None else None
    if len(paths) > 1 or paths[0].is_dir():
        return _local_batch(mode, paths, out, spec, options, hooks)
    return _single(mode, paths[0], out, spec, options)


def compress_files(inputs: Sequence[str | Path], output: str | Path | None = None, spec: CodecSpec | None = None,
                   options: JobOptions | None = None, hooks: Hooks | None = None) -> batch.Summary:  # fmt: skip
    """Images or folders of them -> .cpt streams (folders are mirrored under ``output``, resumably)."""
    return run_job("compress", inputs, output, spec, options, hooks)


def decompress_files(inputs: Sequence[str | Path], output: str | Path | None = None, spec: CodecSpec | None = None,
                     options: JobOptions | None = None, hooks: Hooks | None = None) -> batch.Summary:  # fmt: skip
    """.cpt streams or folders of them -> PNG images (with alpha and ICC profile when the stream has them)."""
    return run_job("decompress", inputs, output, spec, options, hooks)


def code_bytes(mode: str, data: bytes, spec: CodecSpec | None = None, name: str = "<stdin>") -> bytes:
    """One file's bytes -> its output's bytes, exactly what the file route writes (for pipes: ``-``)."""
    from compact.picture import NamedBytes, image_bytes

    codec = (spec or CodecSpec()).codec()
    if mode == "compress":
        return codec.compress(NamedBytes(data, name))  # read with the codec's pixel limit and frame
    return image_bytes(codec.decompress_picture(data), "out.png")


def _single(mode: str, src: Path, output: Path | None, spec: CodecSpec, options: JobOptions) -> batch.Summary:
    """A batch of one: a complete output from an earlier run is kept (rerunning works), anything else that
    exists needs ``force``, and the input itself is never overwritten."""
    job = single_job(src, output, mode)
    if not src.is_file():
        raise CompactError(f"no such file: {src}" if not src.is_dir() else f"{src} is a folder: give an output "
                           "folder with -o")  # fmt: skip
    if job.dst.exists() and job.dst.resolve() == src.resolve():
        raise CompactError(f"{job.dst} is the input: choose another output name")
    codec = spec.codec()
    if job.dst.exists() and not options.force:
        if batch.is_done(job, mode, codec.bundle.manifest.model_id_bytes, codec.channels_for(spec.quality)):
            return batch.Summary(skipped=1)
        check_overwrite(job.dst, options.force)
    size_in, size_out = batch.process(job, mode, codec)
    return batch.Summary(done=1, bytes_in=size_in, bytes_out=size_out, notes=list(codec.notes))


def _local_batch(mode: str, inputs: list[Path], output: Path | None, spec: CodecSpec, options: JobOptions,
                 hooks: Hooks) -> batch.Summary:  # fmt: skip
    batch.check_output(inputs, output, mode)
    plan = batch.plan(inputs, output, mode)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    if hooks.on_plan is not None:
        hooks.on_plan(plan)
    summary = batch.run(plan, mode, spec, options.workers, options.force, hooks.on_file)
    summary.ignored = batch.ignored_files(inputs, mode)
    if output is not None:
        batch.record_failures(output, summary.failed)
    return summary


def _ray(mode: str, inputs: list[str], output: str | Path | None, spec: CodecSpec,
         options: JobOptions) -> batch.Summary:  # fmt: skip
    missing = [m for m in ("ray", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f'the Ray engine needs {", ".join(missing)}: pip install "compact[distributed]"')
    from compact import distributed

    if output is None:
        raise CompactError("--engine ray writes into an output folder: give one with -o")
    workers = distributed.Workers(options.workers, gpus=options.gpus)
    return distributed.run(
        inputs, str(output), mode, distributed.RunOptions(spec, workers, options.force, options.address)
    )
