import struct
import zlib

import pytest

from compact import container
from compact.errors import ChecksumError, FormatError, TruncatedStreamError
from compact.geometry import latent_size


def make_stream(width=37, height=20, channels=16, flags=0, version=1):
    lh, lw = latent_size(height, width)
    size = (channels * lh * lw + 7) // 8
    header = container.Header(b"\x01\x02\x03\x04\x05\x06\x07\x08", width, height, channels, lh, lw, size)
    return container.write(header, bytes(range(size % 256)) * (size // 256) + bytes(range(size % 256))), header


def recrc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def test_round_trip_and_header_layout():
    data, header = make_stream()
    parsed, payload, ext = container.read(data)
    assert ext == container.Extensions()
    assert parsed == header
    assert len(data) == container.HEADER_SIZE + header.payload_size + container.CRC_SIZE
    assert container.HEADER_SIZE == 32
    assert data[:4] == b"CPCT" and data[4] == 1
    assert struct.unpack(">II", data[14:22]) == (37, 20)
    assert len(payload) == header.payload_size


def test_latent_size_rounds_up():
    assert latent_size(1, 1) == (1, 1)
    assert latent_size(16, 16) == (1, 1)
    assert latent_size(33, 17) == (3, 2)


def test_bad_magic():
    data, _ = make_stream()
    with pytest.raises(FormatError, match="magic"):
        container.read(b"JUNK" + data[4:])
    with pytest.raises(FormatError, match="magic"):
        container.read(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)


def test_every_truncation_is_rejected():
    data, _ = make_stream()
    for cut in range(len(data)):
        with pytest.raises(FormatError):
            container.read(data[:cut])
    with pytest.raises(TruncatedStreamError):
        container.read(data[:-1])


def test_crc_mismatch_on_any_payload_bit_flip():
    data, _ = make_stream()
    for pos in (6, container.HEADER_SIZE, len(data) - 5, len(data) - 1):  # model id, payload, CRC
        corrupt = bytearray(data)
        corrupt[pos] ^= 0x10
        with pytest.raises(ChecksumError):
            container.read(bytes(corrupt))


def test_trailing_garbage_rejected():
    data, _ = make_stream()
    with pytest.raises(FormatError, match="unexpected bytes"):
        container.read(data + b"\x00")


@pytest.mark.parametrize(
    "offset,value,match",
    [
        (4, 9, "version"),
        (5, 0x80, "flags"),
        (5, 0x08, "flags"),
    ],
)
def test_unknown_version_or_flags(offset, value, match):
    data, _ = make_stream()
    corrupt = bytearray(data[:-4])
    corrupt[offset] = value
    with pytest.raises(FormatError, match=match):
        container.read(recrc(bytes(corrupt)))


def test_inconsistent_header_fields_rejected_before_payload():
    data, _ = make_stream()
    body = bytearray(data[:-4])
    body[14:18] = struct.pack(">I", 10_000)  # width no longer matches the latent width
    with pytest.raises(FormatError, match="does not fit"):
        container.read(recrc(bytes(body)))
    body = bytearray(data[:-4])
    body[14:22] = struct.pack(">II", 0, 0)
    with pytest.raises(FormatError, match="out of range"):
        container.read(recrc(bytes(body)))
    body = bytearray(data[:-4])
    body[28:32] = struct.pack(">I", 2**31)  # absurd payload size: rejected, nothing allocated
    with pytest.raises(FormatError, match="payload size"):
        container.read(recrc(bytes(body)))


def test_version_2_header_round_trip_and_limits():
    lh, lw = latent_size(60, 100)
    raw = (16 * lh * lw + 7) // 8
    header = container.Header(b"\x01" * 8, 100, 60, 16, lh, lw, 8, version=2, context_id=b"\xab\xcd\xef\x01")
    data = container.write(header, bytes(8))
    assert len(data) == container.HEADER_SIZES[2] + 8 + 4 == 48
    assert container.read(data) == (header, bytes(8), container.Extensions())
    for cut in range(len(data)):
        with pytest.raises(FormatError):
            container.read(data[:cut])
    for size in (6, raw, raw + 4, 0):  # not whole words, not smaller than the raw bits, empty
        with pytest.raises(FormatError, match="payload size"):
            container.write(container.Header(b"\x01" * 8, 100, 60, 16, lh, lw, size, version=2,
                                             context_id=b"\0" * 4), bytes(size))  # fmt: skip
