"""Compress and decompress on a Ray cluster (the ``distributed`` extra): Ray Data reads, an actor pool codes.

Two layers. :func:`compress_dataset` and :func:`decompress_dataset` turn a Ray Dataset of images into one of
compressed records and back, for users' own Ray jobs. :func:`run` is ``compact compress --engine ray``: the
same guarantees as the local engine (compact.batch), on any filesystem pyarrow or fsspec opens: outputs mirror
the input tree, a rerun skips complete outputs, every output is written under a temporary name and moved into
place, failures are listed in ``DST/_compact_failed.jsonl``. Ray is imported lazily: the base install never
needs it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from compact import batch
from compact.errors import CompactError
from compact.files import partial_name
from compact.picture import DEFAULT_MAX_PIXELS, NamedBytes, image_bytes, load_picture
from compact.spec import CodecSpec

if TYPE_CHECKING:
    import pyarrow.fs
    from ray.data import Dataset

#: Read tasks per batch of work, at most: enough blocks to spread files over the actors, not millions of tasks.
MAX_READ_BLOCKS = 10_000
#: Input columns the coding actors accept, in order of preference.
COMPRESS_INPUTS = ("bytes", "image")  # image files (ray.data.read_binary_files) or HxWx3/4 uint8 arrays
DECOMPRESS_INPUTS = ("data", "bytes")  # streams from compress_dataset, or .cpt files read_binary_files read


@dataclass(frozen=True)
class Workers:
    """The actor pool. ``count``: a fixed number of actors, (min, max) to autoscale, or None for 1 up to what
    the cluster fits. Each actor reserves ``cpus`` CPUs (its onnxruntime threads) and ``gpus`` GPUs (the onnx
    backend then runs on CUDA when onnxruntime-gpu is installed; fractions share a GPU).

    A fixed pool that holds every CPU starves upstream tasks that need one (Ray Data's reads take a CPU by
    default) and the job hangs: read with ``num_cpus=0`` and a ``concurrency`` cap, as :func:`run` does, or
    leave ``count`` None to autoscale.
    """

    count: int | tuple[int, int] | None = None
    cpus: float = 1.0
    gpus: float = 0.0
    batch_size: int = 16

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))

    def most(self) -> int:
        """The most actors the pool may hold; for None, the cluster's CPU count (an upper bound)."""
        if isinstance(self.count, int):
            return self.count
        return self.count[1] if self.count else _cluster_cpus()

    def map_args(self) -> dict[str, Any]:
        from ray.data import ActorPoolStrategy

        if isinstance(self.count, int):
            pool = ActorPoolStrategy(size=self.count)
        else:
            low, high = self.count or (1, None)
            pool = ActorPoolStrategy(min_size=low, max_size=high)
        gpus = {"num_gpus": self.gpus} if self.gpus else {}
        return {"compute": pool, "num_cpus": self.cpus, "batch_size": self.batch_size, **gpus}


def _column(rows: dict[str, np.ndarray], candidates: tuple[str, ...]) -> str:
    for name in candidates:
        if name in rows:
            return name
    raise CompactError(f"the dataset needs one of the columns {', '.join(candidates)}; it has {', '.join(rows)}")


class _Coder:
    """A Ray Data actor: one Codec, so one onnxruntime session per network, reused for every batch it gets.

    Each record is coded on its own; a record that fails gets its error message in ``error`` (empty when it
    succeeded) and an empty value, and the batch goes on.
    """

    def __init__(self, spec: CodecSpec, mode: str, threads: int, arrays: bool = False) -> None:
        self.codec = spec.codec(threads)
        self.mode = mode
        self.arrays = arrays  # decompress to uint8 arrays (else PNG file bytes)
        self.output = "data" if mode == "compress" else "image" if arrays else "png"

    def code(self, value: Any, name: str) -> bytes | np.ndarray:
        if self.mode == "compress":
            if isinstance(value, bytes):
                value = load_picture(NamedBytes(value, name), self.codec.max_pixels)
            return self.codec.compress(value)
        picture = self.codec.decompress_picture(bytes(value))
        if not self.arrays:
            return image_bytes(picture, "decoded.png")  # the suffix picks the format
        return picture.rgb if picture.alpha is None else np.dstack([picture.rgb, picture.alpha])

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, Any]:
        source = _column(rows, COMPRESS_INPUTS if self.mode == "compress" else DECOMPRESS_INPUTS)
        names = rows["path"] if "path" in rows else [f"record {i}" for i in range(len(rows[source]))]
        empty: bytes | np.ndarray = np.zeros((0, 0, 3), np.uint8) if self.output == "image" else b""
        coded, errors = [], []
        for value, name in zip(rows[source], names, strict=True):
            try:
                coded.append(self.code(value, str(name)))
                errors.append("")
            except Exception as exc:  # noqa: BLE001 - one record's failure goes into its row, the rest go on
                coded.append(empty)
                errors.append(batch.error_message(exc, name))
        kept = {key: value for key, value in rows.items() if key != source}
        values = coded if self.output == "image" else np.array(coded, dtype=object)
        return {**kept, self.output: values, "error": np.array(errors, dtype=object)}


def compress_dataset(ds: Dataset, model: str = "default", backend: str = "auto", quality: int | None = None,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS,
                     workers: Workers | None = None) -> Dataset:  # fmt: skip
    """Rows with ``bytes`` (image files, as ``ray.data.read_binary_files`` gives them: alpha, ICC profile and
    EXIF orientation handled as by ``compact compress``) or ``image`` (HxWx3 or HxWx4 uint8 arrays) -> rows with
    ``data`` (the .cpt stream) and ``error`` ("" when the row succeeded); other columns such as ``path`` pass."""
    workers = workers or Workers()
    spec = CodecSpec(model, backend, quality, max_pixels)
    return ds.map_batches(_Coder, fn_constructor_kwargs={"spec": spec, "mode": "compress", "threads": workers.threads},
                          batch_format="numpy", **workers.map_args())  # fmt: skip


def decompress_dataset(ds: Dataset, model: str = "default", backend: str = "auto", png: bool = False,
                       max_pixels: int | None = DEFAULT_MAX_PIXELS,
                       workers: Workers | None = None) -> Dataset:  # fmt: skip
    """Rows with ``data`` (streams, as :func:`compress_dataset` gives them) or ``bytes`` (.cpt files) -> rows
    with ``image`` (HxWx3, or HxWx4 when the stream has alpha, uint8) or, with ``png``, ``png`` (the PNG file
    ``compact decompress`` writes, ICC profile included), and ``error``; other columns pass."""
    workers = workers or Workers()
    kwargs = {"spec": CodecSpec(model, backend, None, max_pixels), "mode": "decompress", "threads": workers.threads,
              "arrays": not png}  # fmt: skip
    return ds.map_batches(_Coder, fn_constructor_kwargs=kwargs, batch_format="numpy", **workers.map_args())


def filesystem(url: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """A local path, a URL pyarrow opens itself (file, s3, gs, hdfs, abfs) or any fsspec URL -> (filesystem, path)."""
    import pyarrow
    import pyarrow.fs as pafs

    if "://" not in url:
        return pafs.LocalFileSystem(), PurePosixPath(os.path.abspath(url)).as_posix()
    try:
        return pafs.FileSystem.from_uri(url)
    except pyarrow.ArrowInvalid:  # a scheme pyarrow lacks: fsspec may know it (memory://, http://, ...)
        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise CompactError(f"cannot open {url}: {exc}") from exc
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def write_atomic_fs(fs: pyarrow.fs.FileSystem, path: str, data: bytes) -> None:
    """As compact.files.write_atomic, on any pyarrow filesystem: write a hidden temporary file, move it into place.

    Atomic where the filesystem's move is a rename (local, HDFS, NFS); on object stores the move is a server-side
    copy of the complete temporary object, so the output still never appears half-written.
    """
    target = PurePosixPath(path)
    fs.create_dir(str(target.parent), recursive=True)
    tmp = partial_name(target)
    try:
        with fs.open_output_stream(tmp) as out:
            out.write(data)
        fs.move(tmp, path)
    except BaseException:
        if fs.get_file_info(tmp).is_file:
            fs.delete_file(tmp)
        raise


@dataclass(frozen=True)
class Layout:
    """Where outputs go, as in compact.batch.plan: an input folder is mirrored under the output folder, an input
    file lands in it as stem + suffix (whole name + suffix when a folder has several files of that stem).
    Pickled to the actors, which map each file they read to its output."""

    input_fs: pyarrow.fs.FileSystem
    roots: tuple[tuple[str, bool], ...]  # each input's path on input_fs, and whether it is a folder
    output_fs: pyarrow.fs.FileSystem
    output: str
    suffix: str
    whole_names: frozenset[str] = frozenset()  # sources whose stem another file of their folder shares

    def destination(self, src: str) -> str:
        for root, is_dir in self.roots:
            if is_dir and src.startswith(root.rstrip("/") + "/"):
                rel = PurePosixPath(src).relative_to(root)
                name = rel.name if src in self.whole_names else rel.stem
                return str(PurePosixPath(self.output, rel.parent, name + self.suffix))
            if not is_dir and src == root:
                return str(PurePosixPath(self.output, PurePosixPath(src).stem + self.suffix))
        raise CompactError(f"{src} is under none of the inputs")

    @property
    def manifest(self) -> str:
        return str(PurePosixPath(self.output, batch.FAILED_MANIFEST))


def plan(inputs: list[str], output: str, mode: str) -> tuple[Layout, list[tuple[str, str]]]:
    """List the inputs (one recursive listing per folder) and pair each file with its output path."""
    from pyarrow.fs import FileSelector, FileType

    wanted = batch.wanted_suffixes(mode)
    opened = [filesystem(url) for url in inputs]
    input_fs = opened[0][0]
    if not all(fs.equals(input_fs) for fs, _ in opened):
        raise CompactError("the Ray engine reads all inputs through one filesystem: give inputs on the same one")
    roots, sources = [], []
    for url, (fs, path) in zip(inputs, opened, strict=True):
        kind = fs.get_file_info(path).type
        if kind == FileType.Directory:
            listing = fs.get_file_info(FileSelector(path, recursive=True))
            found = [i.path for i in listing if i.is_file and PurePosixPath(i.path).suffix.lower() in wanted]
            sources += sorted(found)
        elif kind == FileType.File:
            sources.append(path)
        else:
            raise CompactError(f"no such file or folder: {url}")
        roots.append((path, kind == FileType.Directory))
    output_fs, out = filesystem(output)
    folders = [root for root, is_dir in roots if is_dir]
    for root, _ in roots:
        inside = [f for f in folders if f != root and root.startswith(f.rstrip("/") + "/")]
        if inside:  # the actors map each file to one output, so one input may not hold another
            raise CompactError(f"{root} is inside the input folder {inside[0]}: give each file once")
    stems = Counter((str(PurePosixPath(s).parent), PurePosixPath(s).stem) for s in sources)
    whole = frozenset(s for s in sources if stems[str(PurePosixPath(s).parent), PurePosixPath(s).stem] > 1)
    layout = Layout(input_fs, tuple(roots), output_fs, out, batch.STREAM_SUFFIX if mode == "compress" else ".png",
                    whole)  # fmt: skip
    jobs = [(src, layout.destination(src)) for src in sources]
    batch.check_distinct(jobs)
    return layout, jobs


def _read(paths: list[str], fs: pyarrow.fs.FileSystem, batch_size: int, readers: int) -> Dataset:
    """Files as rows of ``path`` and ``bytes``, about one block per batch so every actor gets work.

    Reads take no CPU slot: they are I/O, and a pool holding every CPU must not starve them. ``readers`` caps
    how many run at once: uncapped, each zero-CPU read gets its own new worker process (16 for 240 files here),
    and starting those cost 4x the coding time on a 2-core machine.
    """
    import ray.data

    blocks = max(1, min(MAX_READ_BLOCKS, -(-len(paths) // batch_size)))
    return ray.data.read_binary_files(paths, include_paths=True, filesystem=fs, num_cpus=0,
                                      override_num_blocks=blocks, concurrency=min(readers, blocks))  # fmt: skip


def _current(rows: dict[str, np.ndarray], model_id: bytes, channels: int) -> dict[str, np.ndarray]:
    done = [batch.stream_is_current(data, model_id, channels) for data in rows["bytes"]]
    return {"path": rows["path"], "done": np.array(done)}


def _done(layout: Layout, jobs: list[tuple[str, str]], mode: str, model_id: bytes, channels: int) -> set[str]:
    """Outputs already complete: one listing of the output tree, then (compress) a parallel check of each
    existing stream's CRC, model and quality, as compact.batch.is_done does for one file."""
    from pyarrow.fs import FileSelector

    listing = layout.output_fs.get_file_info(FileSelector(layout.output, recursive=True, allow_not_found=True))
    present = {info.path for info in listing if info.is_file}
    existing = [dst for _, dst in jobs if dst in present]
    if mode != "compress" or not existing:
        return set(existing)
    checked = _read(existing, layout.output_fs, 256, _cluster_cpus()).map_batches(
        _current, fn_kwargs={"model_id": model_id, "channels": channels}, batch_format="numpy"
    )
    return {row["path"] for row in checked.iter_rows() if row["done"]}


def _cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class _FileCoder(_Coder):
    """The CLI's actor: codes a batch of files, writes each result to its output; returns only sizes and errors."""

    def __init__(self, spec: CodecSpec, mode: str, threads: int, layout: Layout) -> None:
        super().__init__(spec, mode, threads)
        self.layout = layout

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, Any]:
        sizes_in = [len(data) for data in rows["bytes"]]
        coded = super().__call__(rows)
        errors, sizes_out = list(coded["error"]), []
        for i, (src, data) in enumerate(zip(rows["path"], coded[self.output], strict=True)):
            if not errors[i]:
                try:
                    write_atomic_fs(self.layout.output_fs, self.layout.destination(src), data)
                except Exception as exc:  # noqa: BLE001 - as a coding failure: recorded in the row
                    errors[i] = batch.error_message(exc, src)
            sizes_out.append(0 if errors[i] else len(data))
        return {"path": rows["path"], "bytes_in": np.array(sizes_in), "bytes_out": np.array(sizes_out),
                "error": np.array(errors, dtype=object)}  # fmt: skip


@dataclass
class RunOptions:
    """How ``compact compress/decompress --engine ray`` runs; the codec settings travel in ``spec``."""

    spec: CodecSpec = field(default_factory=CodecSpec)
    workers: Workers = field(default_factory=Workers)
    force: bool = False
    address: str | None = None  # a Ray cluster ("auto", "ray://head:10001"); None: RAY_ADDRESS, else a local one


def run(inputs: list[str], output: str, mode: str, options: RunOptions) -> batch.Summary:
    """Code every input file not already done into ``output``; Ray Data shows the progress.

    Connects to (or starts) Ray when it is not running yet, and then disconnects (or stops it) at the end.
    """
    import ray

    t0 = time.perf_counter()
    parent = options.spec.codec()  # a bad model, backend or quality fails here, once, before Ray starts
    channels = parent.channels_for(options.spec.quality)
    layout, jobs = plan(inputs, output, mode)
    started = not ray.is_initialized()
    if started:
        ray.init(address=options.address)
    try:
        model_id = parent.bundle.manifest.model_id_bytes
        done = set() if options.force else _done(layout, jobs, mode, model_id, channels)
        todo = [src for src, dst in jobs if dst not in done]
        summary = batch.Summary(skipped=len(jobs) - len(todo))
        if todo:
            _code(todo, layout, mode, options, summary)
        if summary.failed:
            write_atomic_fs(layout.output_fs, layout.manifest, batch.failures_jsonl(summary.failed))
        elif layout.output_fs.get_file_info(layout.manifest).is_file:
            layout.output_fs.delete_file(layout.manifest)
    finally:
        if started:
            ray.shutdown()
    summary.seconds = time.perf_counter() - t0
    return summary


def _code(todo: list[str], layout: Layout, mode: str, options: RunOptions, summary: batch.Summary) -> None:
    import ray

    workers = options.workers
    kwargs = {"spec": options.spec, "mode": mode, "threads": workers.threads, "layout": layout}
    try:
        coded = _read(todo, layout.input_fs, workers.batch_size, workers.most()).map_batches(
            _FileCoder, fn_constructor_kwargs=kwargs, batch_format="numpy", **workers.map_args()
        )
        for row in coded.iter_rows():
            if row["error"]:
                summary.failed.append((row["path"], row["error"]))
            else:
                summary.done += 1
                summary.bytes_in += int(row["bytes_in"])
                summary.bytes_out += int(row["bytes_out"])
    except (ray.exceptions.RayError, OSError) as exc:  # a worker lost, an input gone since the listing, ...
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise CompactError(f"the Ray job stopped ({type(exc).__name__}: {lines[-1] if lines else ''}); "
                           "finished outputs are kept: rerun to resume") from exc  # fmt: skip
