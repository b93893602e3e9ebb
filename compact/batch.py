"""Batch compression and decompression of folder trees: parallel, resumable, never half-written.

Each worker process holds its own Codec (so its own onnxruntime session). Outputs are written to a
temporary file and renamed, so an output that exists is complete: a rerun after Ctrl-C or a crash skips
it. A bad input is recorded and the batch goes on; the summary lists every failure.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from compact import container
from compact.codec import Codec
from compact.errors import CompactError
from compact.picture import readable_suffixes
from compact.spec import CodecSpec

STREAM_SUFFIX = ".cpt"
#: Written into the output folder by a batch run with failures: one JSON object per line, {"path", "error"}.
FAILED_MANIFEST = "_compact_failed.jsonl"


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    #: files in the input folders that were not tried: not images Pillow can open here (or not .cpt streams)
    ignored: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one-line remarks, e.g. frames of animations not coded


def wanted_suffixes(mode: str) -> frozenset[str]:
    """What a folder walk picks up: every suffix Pillow opens here (compress), or .cpt (decompress)."""
    return readable_suffixes() if mode == "compress" else frozenset({STREAM_SUFFIX})


def _walk(folder: Path, mode: str) -> tuple[list[Path], list[Path]]:
    """(files to code, files ignored for their type) under ``folder``, sorted."""
    wanted = wanted_suffixes(mode)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != FAILED_MANIFEST)
    return [p for p in files if p.suffix.lower() in wanted], [p for p in files if p.suffix.lower() not in wanted]


def check_output(inputs: list[Path], output: Path | None, mode: str) -> None:
    """A folder input needs an output folder: ``-o x.cpt`` (or ``-o x.png``) is a usage error, not a folder."""
    if output is None or output.is_dir() or not any(src.is_dir() for src in inputs):
        return
    if output.exists() or output.suffix.lower() in wanted_suffixes(mode) | {STREAM_SUFFIX, ".png"}:
        raise CompactError(f"folder inputs need an output folder, and {output} is a file name: give -o FOLDER")


def plan(inputs: list[Path], output: Path | None, mode: str) -> list[Job]:
    """Files map to ``output`` (or their own folder); folders are walked and mirrored under ``output``.

    Files of one folder that share a stem (x.jpg, x.tif) keep their whole names instead: x.jpg.cpt, x.tif.cpt.
    """
    suffix = STREAM_SUFFIX if mode == "compress" else ".png"
    jobs = []
    for src in inputs:
        if src.is_dir():
            if output is None:
                raise CompactError(f"{src} is a folder: give an output folder with -o")
            paths = _walk(src, mode)[0]
            stems = Counter((p.parent, p.stem) for p in paths)
            for p in paths:
                name = p.stem if stems[p.parent, p.stem] == 1 else p.name
                jobs.append(Job(p, output / p.relative_to(src).parent / (name + suffix)))
        elif src.exists():
            jobs.append(Job(src, (output or src.parent) / (src.stem + suffix)))
        else:
            raise CompactError(f"no such file or folder: {src}")
    check_distinct((job.src, job.dst) for job in jobs)
    return jobs


def ignored_files(inputs: list[Path], mode: str) -> list[Path]:
    """Files in the input folders a run does not try, so the summary can say so."""
    return [p for src in inputs if src.is_dir() for p in _walk(src, mode)[1]]


def check_distinct(pairs: Iterable[tuple[object, object]]) -> None:
    """Refuse a plan where two inputs (say a.png and a.jpg) would write the same output."""
    seen: dict[object, object] = {}
    for src, dst in pairs:
        if dst in seen:
            raise CompactError(f"{seen[dst]} and {src} would both write {dst}")
        seen[dst] = src


def is_done(job: Job, mode: str, model_id: bytes, channels: int | None = None) -> bool:
    """An existing output is complete (outputs are renamed into place); a stream must also pass its CRC and
    come from the same model at the same quality (``channels``), so a rerun with another one redoes it."""
    if not job.dst.is_file():
        return False
    return mode != "compress" or stream_is_current(job.dst.read_bytes(), model_id, channels)


def stream_is_current(data: bytes, model_id: bytes, channels: int | None = None) -> bool:
    """A stream that passes its CRC and was made by this model with ``channels`` (None: any) code channels."""
    try:
        header, _, _ = container.read(data)
    except CompactError:
        return False
    return header.model_id == model_id and channels in (None, header.channels)


_worker_codec: Codec | None = None  # in a worker process only: its own Codec, made by _init_worker


def _init_worker(spec: CodecSpec, threads: int | None) -> None:
    # Ctrl-C reaches the whole process group: the parent alone handles it (it stops handing out files).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_codec
    _worker_codec = spec.codec(threads)


def process(job: Job, mode: str, codec: Codec) -> tuple[int, int]:
    """Do one job; returns (bytes in, bytes out). Jobs reaching here have no valid output, so any is replaced."""
    from compact.files import write_atomic
    from compact.picture import save_image

    job.dst.parent.mkdir(parents=True, exist_ok=True)
    size_in = job.src.stat().st_size
    if mode == "compress":
        data = codec.compress(job.src)
        write_atomic(job.dst, data, force=True)
        return size_in, len(data)
    save_image(codec.decompress_picture(job.src.read_bytes()), job.dst, force=True)
    return size_in, job.dst.stat().st_size


#: job, (bytes in, bytes out) or None, error, the codec's notes on the file
Outcome = tuple[Job, tuple[int, int] | None, str | None, list[str]]


def _run_one(job: Job, mode: str, codec: Codec | None = None) -> Outcome:
    """Run a job with ``codec`` or, in a worker process, the worker's codec; errors become messages."""
    try:
        codec = codec or _worker_codec
        return job, process(job, mode, codec), None, list(codec.notes) if mode == "compress" else []
    except Exception as exc:  # noqa: BLE001 - one file's failure is recorded and reported, the batch goes on
        return job, None, error_message(exc, job.src), []


def error_message(exc: Exception, src: object) -> str:
    """One line for a failed file: our own errors as they are, I/O errors with the file, others with their type."""
    if isinstance(exc, CompactError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or src}"
    return f"{type(exc).__name__}: {exc}"


def failures_jsonl(failed: Iterable[tuple[object, str]]) -> bytes:
    """The failure manifest's content: one {"path", "error"} object per line, for scripts that retry them."""
    return "".join(json.dumps({"path": str(src), "error": error}) + "\n" for src, error in failed).encode()


def record_failures(output: Path, failed: list[tuple[Path, str]]) -> None:
    """Write the failure manifest into ``output``, or remove a stale one when nothing failed this time."""
    from compact.files import write_atomic

    path = output / FAILED_MANIFEST
    if failed:
        write_atomic(path, failures_jsonl(failed), force=True)
    else:
        path.unlink(missing_ok=True)


Progress = Callable[[Job, int, str | None], None]  # job, bytes in, error (None = ok, "skipped")


def run(jobs: list[Job], mode: str, spec: CodecSpec, workers: int | None = None, force: bool = False,
        progress: Progress | None = None) -> Summary:  # fmt: skip
    """Run every job, skipping those already done unless ``force``."""
    summary = Summary()
    t0 = time.perf_counter()
    # Made here first so a bad model, backend or quality fails once, clearly, before any worker starts.
    parent = spec.codec()
    channels = parent.channels_for(spec.quality)
    todo = []
    for job in jobs:
        if not force and is_done(job, mode, parent.bundle.manifest.model_id_bytes, channels):
            summary.skipped += 1
            if progress:
                progress(job, job.src.stat().st_size, "skipped")
        else:
            todo.append(job)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    for job, sizes, error, notes in _execute(todo, mode, spec, workers, threads):
        summary.notes += notes
        if sizes is None:
            summary.failed.append((job.src, error or "failed"))
        else:
            summary.done += 1
            summary.bytes_in += sizes[0]
            summary.bytes_out += sizes[1]
        if progress:
            progress(job, sizes[0] if sizes else 0, error)
    summary.seconds = time.perf_counter() - t0
    return summary


def _execute(todo: list[Job], mode: str, spec: CodecSpec, workers: int, threads: int) -> Iterator[Outcome]:
    if workers == 1:
        codec = spec.codec(threads)
        for job in todo:
            yield _run_one(job, mode, codec)
        return
    # The parent's codec has loaded torch when it refines, and a fork of a process whose torch threads have
    # started can hang forever (it did, in the first try): those workers are spawned.
    start = multiprocessing.get_context("spawn") if spec.refine else None
    with ProcessPoolExecutor(workers, start, initializer=_init_worker, initargs=(spec, threads)) as pool:
        futures = [pool.submit(_run_one, job, mode) for job in todo]
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool as exc:
                    raise CompactError(f"a worker process died ({exc}); rerun to resume") from exc
        except KeyboardInterrupt:
            # Ctrl-C: no new file starts; the files being coded finish (their writes are atomic either way).
            pool.shutdown(wait=True, cancel_futures=True)
            raise
