"""Untrusted streams: every malformed input ends in the project's own error, fast and with bounded memory.

Most mutations are structure-aware: the stream is parsed, its payload or an extension block is changed and
the stream is written again with a valid CRC, so the case reaches the range decoder, the alpha PNG reader or
the decoder network instead of stopping at the checksum. Each run explores new inputs: the seed is printed in
pytest's header and in every failure; replay one with COMPACT_FUZZ_SEED=<seed>. Cases per test:
COMPACT_FUZZ_CASES (default 2,000; the ``slow`` variant runs 10x more):

    COMPACT_FUZZ_CASES=100000 python -m pytest -q tests/test_fuzz.py
"""

import os
import struct
import tracemalloc
import zlib
from collections import Counter

import numpy as np
import pytest
from conftest import FUZZ_SEED, natural_image
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from compact import container
from compact.codec import Codec
from compact.errors import CompactError

CASES = int(os.environ.get("COMPACT_FUZZ_CASES", "2000"))
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
SLOW = settings(FUZZ, max_examples=10 * CASES)


@pytest.fixture(scope="module")
def codec():
    return Codec("default", "onnx")


@pytest.fixture(scope="module")
def seeds(codec):
    """Valid streams to mutate: raw and entropy-coded, with alpha, with an ICC profile, and a 1x1 image."""
    rgb = natural_image(96, 128, seed=70)
    rgba = np.dstack([rgb, np.linspace(0, 255, rgb.size // 3).astype(np.uint8).reshape(rgb.shape[:2])])
    raw = Codec("default", "onnx", entropy_coding=False)
    streams = [codec.compress(rgb), codec.compress(rgba), raw.compress(rgb), raw.compress(rgba),
               codec.compress(natural_image(1, 1, seed=71))]  # fmt: skip
    header, payload, ext = container.read(streams[0])
    streams.append(container.write(header, payload, container.Extensions(icc=b"not really an ICC profile")))
    assert {s[4] for s in streams} == {container.RAW, container.ENTROPY_CODED}, "the fuzz needs both versions"
    return streams


def outcome(codec, data: bytes) -> str:
    """Decode all the way to pixels: "pixels", or the name of the project's error that stopped it."""
    try:
        picture = codec.decompress_picture(data)
    except CompactError as e:
        return type(e).__name__
    header = codec.decode_bits(data)[0]
    assert picture.rgb.shape == (header.height, header.width, 3) and picture.rgb.dtype == np.uint8
    if picture.alpha is not None:
        assert picture.alpha.shape == (header.height, header.width)
    return "pixels"


def _flip(blob: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(blob)
    for _ in range(int(rng.integers(1, 9))):
        pos = int(rng.integers(0, len(out)))
        out[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _change(blob: bytes, rng: np.random.Generator) -> bytes:
    """Flip bits, overwrite a run, cut the end or append bytes."""
    kind = rng.integers(0, 4) if blob else 3
    if kind == 0:
        return _flip(blob, rng)
    if kind == 1:
        start = int(rng.integers(0, len(blob)))
        run = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
        return blob[:start] + run + blob[start + len(run) :]
    if kind == 2:
        return blob[: int(rng.integers(0, len(blob)))]
    return blob + rng.integers(0, 256, int(rng.integers(1, 33)), dtype=np.uint8).tobytes()


def _recrc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def mutate(stream: bytes, rng: np.random.Generator) -> bytes:
    """One mutation of a valid stream; most keep a valid CRC so that the checks behind it are reached."""
    header, payload, ext = container.read(stream)
    kind = rng.choice(["payload", "resized", "alpha", "icc", "body", "raw"], p=[0.35, 0.2, 0.15, 0.1, 0.15, 0.05])
    if kind in ("alpha", "icc") and getattr(ext, kind) is not None:
        changed = {"alpha": ext.alpha, "icc": ext.icc, kind: _change(getattr(ext, kind), rng)}
        return container.write(header, payload, container.Extensions(**changed))
    if kind == "resized":  # a payload of another size (whole words for version 2, so it reaches the decoder)
        new = _change(payload, rng)
        if header.version == container.ENTROPY_CODED:
            new = new[: len(new) // 4 * 4] or payload[:4]
        head = stream[: header.header_size - 4] + struct.pack(">I", len(new))
        return _recrc(head + new + stream[header.header_size + len(payload) : -4])
    if kind == "body":  # any byte after the header (block sizes included), CRC recomputed
        return _recrc(stream[: header.header_size] + _change(stream[header.header_size : -4], rng))
    if kind == "raw":
        return _flip(stream, rng)  # the CRC catches these
    return container.write(header, _flip(payload, rng), ext)  # same size: the range decoder and the network


@FUZZ
@seed(FUZZ_SEED)
@given(index=st.integers(0, 5), case=st.integers(0, 2**63 - 1))
def test_mutated_streams_fail_cleanly(codec, seeds, index, case):
    outcome(codec, mutate(seeds[index], np.random.default_rng(case)))


@pytest.mark.slow
@SLOW
@seed(FUZZ_SEED)
@given(index=st.integers(0, 5), case=st.integers(0, 2**63 - 1))
def test_mutated_streams_fail_cleanly_slow(codec, seeds, index, case):
    outcome(codec, mutate(seeds[index], np.random.default_rng(case)))


def test_most_mutations_reach_the_decoder(codec, seeds):
    """Where the cases end: at least half decode to pixels (the range decoder and the network ran on mutated
    input; measured 72 %) and every other case is one of the project's errors, raised behind the CRC
    for most of them (the CRC stops 2 %; whole-stream flips: 0 % pixels, 52 % CRC)."""
    rng = np.random.default_rng(FUZZ_SEED)
    ends = Counter(outcome(codec, mutate(seeds[i % len(seeds)], rng)) for i in range(400))
    assert ends["pixels"] >= 200, (FUZZ_SEED, ends)
    assert ends["ChecksumError"] <= 60, (FUZZ_SEED, ends)


def test_whole_stream_flips_mostly_stop_at_the_crc(codec, seeds):
    """Negative control of the test above: unstructured bit flips (the old fuzz) hardly ever reach pixels."""
    rng = np.random.default_rng(FUZZ_SEED)
    ends = Counter(outcome(codec, _flip(seeds[i % len(seeds)], rng)) for i in range(200))
    assert ends["pixels"] < 100, (FUZZ_SEED, ends)


@FUZZ
@seed(FUZZ_SEED)
@given(data=st.binary(max_size=200))
def test_random_bytes_fail_cleanly(codec, data):
    outcome(codec, data)


def peak_bytes(fn) -> int:
    """Peak bytes allocated through Python and numpy (tracemalloc) while ``fn`` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


#: far below what any header field could ask for (a 65535 x 65535 image is 12 GB of pixels)
ALLOCATION_BOUND = 256 * 1024


@FUZZ
@seed(FUZZ_SEED)
@given(width=st.integers(0, 2**32 - 1), height=st.integers(0, 2**32 - 1), channels=st.integers(0, 2**16 - 1),
       lh=st.integers(0, 2**16 - 1), lw=st.integers(0, 2**16 - 1), size=st.integers(0, 2**32 - 1),
       version=st.integers(0, 255), flags=st.integers(0, 255))  # fmt: skip
def test_absurd_headers_never_allocate(codec, width, height, channels, lh, lw, size, version, flags):
    """Any header with a valid CRC and no payload is rejected with under 256 KiB allocated (tracemalloc),
    whatever sizes it declares."""
    head = struct.pack(">4sBB8sIIHHHI", b"CPCT", version, flags, bytes.fromhex(codec.model_id), width, height,
                       channels, lh, lw, size)  # fmt: skip
    stream = _recrc(head)
    assert peak_bytes(lambda: outcome(codec, stream)) < ALLOCATION_BOUND


def test_the_allocation_bound_catches_a_reader_that_trusts_the_header():
    """Negative control: allocating what a 1024x1024 header declares is far over the bound."""
    assert peak_bytes(lambda: np.zeros((1024, 1024, 3), np.uint8)) > ALLOCATION_BOUND
