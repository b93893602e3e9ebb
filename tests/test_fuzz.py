"""Untrusted streams: every malformed input ends in the project's own error, fast and with bounded memory.

5,000 cases per test by default; the ``slow`` variants run 10x more. For long runs set COMPACT_FUZZ_CASES:

    COMPACT_FUZZ_CASES=1000000 python -m pytest -q tests/test_fuzz.py -k "not slow"
"""

import os
import struct
import zlib

import numpy as np
import pytest
from conftest import natural_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compact.codec import Codec
from compact.errors import CompactError

CASES = int(os.environ.get("COMPACT_FUZZ_CASES", "5000"))


@pytest.fixture(scope="module")
def codec():
    return Codec("default", "onnx")


@pytest.fixture(scope="module")
def seeds(codec):
    """Valid streams to mutate: raw and (if the model has a context model) entropy-coded, with and without alpha."""
    rgb = natural_image(96, 128, seed=70)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
    streams = [codec.compress(rgb), codec.compress(rgba)]
    raw = Codec("default", "onnx", entropy_coding=False)
    streams.append(raw.compress(rgb))
    assert {s[4] for s in streams} == {1, 2}, "the fuzz needs raw and entropy-coded seeds"
    return streams


def _check(codec, data: bytes) -> None:
    """Decode all the way to pixels; only the project's own errors may come out."""
    try:
        picture = codec.decompress_picture(data)
    except CompactError:
        return
    header = codec.decode_bits(data)[0]
    assert picture.rgb.shape == (header.height, header.width, 3)


def _recrc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SLOW = settings(FUZZ, max_examples=10 * CASES, derandomize=False)


@FUZZ
@given(st.data())
def test_mutated_streams_fail_cleanly(codec, seeds, data):
    mutate_and_check(codec, seeds, data)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_mutated_streams_fail_cleanly_slow(codec, seeds, data):
    mutate_and_check(codec, seeds, data)


def mutate_and_check(codec, seeds, data):
    stream = bytearray(data.draw(st.sampled_from(seeds)))
    kind = data.draw(st.sampled_from(["flip", "truncate", "garbage", "header", "random"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            pos = data.draw(st.integers(0, len(stream) - 1))
            stream[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        stream = stream[: data.draw(st.integers(0, len(stream) - 1))]
    elif kind == "garbage":
        stream += data.draw(st.binary(min_size=1, max_size=64))
    elif kind == "header":  # rewrite header fields with any values and a valid CRC, to reach deeper checks
        pos = data.draw(st.integers(4, 35))
        stream[pos : pos + 4] = data.draw(st.binary(min_size=4, max_size=4))
        stream = bytearray(_recrc(bytes(stream[:-4])))
    else:
        stream = bytearray(data.draw(st.binary(max_size=200)))
    _check(codec, bytes(stream))


@FUZZ
@given(width=st.integers(0, 2**32 - 1), height=st.integers(0, 2**32 - 1), channels=st.integers(0, 2**16 - 1),
       lh=st.integers(0, 2**16 - 1), lw=st.integers(0, 2**16 - 1), size=st.integers(0, 2**32 - 1),
       version=st.integers(0, 255), flags=st.integers(0, 255))  # fmt: skip
def test_absurd_headers_never_allocate(codec, width, height, channels, lh, lw, size, version, flags):
    """Any header with a valid CRC and no payload: rejected before anything sized by the header is allocated."""
    head = struct.pack(">4sBB8sIIHHHI", b"CPCT", version, flags, bytes.fromhex(codec.model_id), width, height,
                       channels, lh, lw, size)  # fmt: skip
    _check(codec, _recrc(head))
