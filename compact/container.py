"""The COMPACT container (specified byte by byte in docs/FORMAT.md).

Version 1 stores the packed code bits; version 2 stores them entropy-coded with the model's context
model, whose id it records. All integers are big-endian. Each version's header is fixed-size so a reader
can validate every field, and bound every allocation, before touching the payload.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from compact.bits import packed_size
from compact.config import STRIDE
from compact.errors import ChecksumError, FormatError, TruncatedStreamError

MAGIC = b"CPCT"
RAW, ENTROPY_CODED = 1, 2  # the two versions
VERSIONS = (RAW, ENTROPY_CODED)
_HEADERS = {RAW: struct.Struct(">4sBB8sIIHHHI"), ENTROPY_CODED: struct.Struct(">4sBB8s4sIIHHHI")}
HEADER_SIZES = {v: h.size for v, h in _HEADERS.items()}  # 32 and 36 bytes
HEADER_SIZE = HEADER_SIZES[RAW]
CRC_SIZE = 4
#: Largest side accepted (2**16 - 1 latent cells of 16 px would be ~1 Mpx wide; we cap far lower).
MAX_SIDE = 65_535
MAX_LATENT_CHANNELS = 1024
#: Flags defined so far: none. Readers reject unknown flags instead of misreading a stream.
KNOWN_FLAGS = 0x00


def latent_size(width: int, height: int) -> tuple[int, int]:
    """(h, w) of the code for an image, after padding up to a multiple of the stride."""
    return -(-height // STRIDE), -(-width // STRIDE)


@dataclass(frozen=True)
class Header:
    model_id: bytes  # 8 bytes: the first half of the manifest's model id
    width: int
    height: int
    channels: int
    latent_height: int
    latent_width: int
    payload_size: int
    version: int = RAW
    flags: int = 0
    context_id: bytes = b""  # version 2: 4 bytes naming the context model that coded the payload

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.latent_height, self.latent_width)

    @property
    def model_id_hex(self) -> str:
        return self.model_id.hex()

    @property
    def header_size(self) -> int:
        return HEADER_SIZES[self.version]

    def validate(self) -> None:
        if self.version not in VERSIONS:
            raise FormatError(f"unsupported container version {self.version} (this reader knows 1 and 2)")
        if self.flags & ~KNOWN_FLAGS:
            raise FormatError(f"unknown flags 0x{self.flags:02x}")
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            raise FormatError(f"image size {self.width}x{self.height} is out of range 1..{MAX_SIDE}")
        if not 1 <= self.channels <= MAX_LATENT_CHANNELS:
            raise FormatError(f"latent channel count {self.channels} is out of range")
        if (self.latent_height, self.latent_width) != latent_size(self.width, self.height):
            raise FormatError(
                f"latent {self.latent_height}x{self.latent_width} does not fit image {self.width}x{self.height}"
            )
        raw = packed_size(self.latent_shape)
        if self.version == RAW and self.payload_size != raw:
            raise FormatError(f"payload size {self.payload_size} does not match latent {self.latent_shape}")
        # An entropy-coded payload is whole 32-bit words and smaller than the raw bits (else v1 is written).
        if self.version == ENTROPY_CODED and not (self.payload_size % 4 == 0 and 0 < self.payload_size < raw):
            raise FormatError(f"payload size {self.payload_size} is invalid for latent {self.latent_shape}")
        if self.version == ENTROPY_CODED and len(self.context_id) != 4:
            raise FormatError("a version 2 stream needs a 4-byte context id")


def write(header: Header, payload: bytes) -> bytes:
    header.validate()
    if len(payload) != header.payload_size:
        raise FormatError(f"payload is {len(payload)} bytes, header says {header.payload_size}")
    ids = (header.model_id, header.context_id) if header.version == ENTROPY_CODED else (header.model_id,)
    head = _HEADERS[header.version].pack(
        MAGIC, header.version, header.flags, *ids, header.width, header.height,
        header.channels, header.latent_height, header.latent_width, header.payload_size,
    )  # fmt: skip
    body = head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def read_header(data: bytes) -> Header:
    """Parse and validate the fixed header only (what ``compact info`` shows)."""
    if not data.startswith(MAGIC) and not (len(data) < len(MAGIC) and MAGIC.startswith(data)):
        raise FormatError("not a COMPACT file (bad magic)")
    if len(data) < 5:
        raise TruncatedStreamError(f"stream is {len(data)} bytes, shorter than any header")
    version = data[4]
    if version not in VERSIONS:
        raise FormatError(f"unsupported container version {version} (this reader knows 1 and 2)")
    size = HEADER_SIZES[version]
    if len(data) < size:
        raise TruncatedStreamError(f"stream is {len(data)} bytes, shorter than the {size}-byte header")
    fields = _HEADERS[version].unpack_from(data)
    flags, model_id = fields[2], fields[3]
    context_id = fields[4] if version == ENTROPY_CODED else b""
    width, height, channels, lh, lw, payload = fields[-6:]
    header = Header(model_id, width, height, channels, lh, lw, payload, version, flags, context_id)
    header.validate()
    return header


def read(data: bytes) -> tuple[Header, bytes]:
    """Parse a whole stream: header, payload and CRC, rejecting any byte too few or too many."""
    header = read_header(data)
    expected = header.header_size + header.payload_size + CRC_SIZE
    if len(data) < expected:
        raise TruncatedStreamError(f"stream is {len(data)} bytes, header announces {expected}")
    if len(data) > expected:
        raise FormatError(f"{len(data) - expected} unexpected bytes after the end of the stream")
    body, (crc,) = data[:-CRC_SIZE], struct.unpack(">I", data[-CRC_SIZE:])
    if zlib.crc32(body) != crc:
        raise ChecksumError("CRC32 mismatch: the file is corrupt")
    return header, body[header.header_size :]
