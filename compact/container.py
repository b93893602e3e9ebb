"""The COMPACT container, format version 1 (specified byte by byte in docs/FORMAT.md).

All integers are big-endian. The header is fixed-size so a reader can validate every field, and
bound every allocation, before touching the payload.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from compact.bits import packed_size
from compact.config import STRIDE
from compact.errors import ChecksumError, FormatError, TruncatedStreamError

MAGIC = b"CPCT"
VERSION = 1
_HEADER = struct.Struct(">4sBB8sIIHHHI")
HEADER_SIZE = _HEADER.size  # 32 bytes
CRC_SIZE = 4
#: Largest side accepted (2**16 - 1 latent cells of 16 px would be ~1 Mpx wide; we cap far lower).
MAX_SIDE = 65_535
MAX_LATENT_CHANNELS = 1024
#: Flags defined in version 1: none. Readers reject unknown flags instead of misreading a stream.
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
    version: int = VERSION
    flags: int = 0

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.latent_height, self.latent_width)

    @property
    def model_id_hex(self) -> str:
        return self.model_id.hex()

    def validate(self) -> None:
        if self.version != VERSION:
            raise FormatError(f"unsupported container version {self.version} (this reader knows {VERSION})")
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
        if self.payload_size != packed_size(self.latent_shape):
            raise FormatError(f"payload size {self.payload_size} does not match latent {self.latent_shape}")


def write(header: Header, payload: bytes) -> bytes:
    header.validate()
    if len(payload) != header.payload_size:
        raise FormatError(f"payload is {len(payload)} bytes, header says {header.payload_size}")
    head = _HEADER.pack(
        MAGIC, header.version, header.flags, header.model_id, header.width, header.height,
        header.channels, header.latent_height, header.latent_width, header.payload_size,
    )  # fmt: skip
    body = head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def read_header(data: bytes) -> Header:
    """Parse and validate the fixed header only (what ``compact info`` shows)."""
    if not data.startswith(MAGIC) and not (len(data) < len(MAGIC) and MAGIC.startswith(data)):
        raise FormatError("not a COMPACT file (bad magic)")
    if len(data) < HEADER_SIZE:
        raise TruncatedStreamError(f"stream is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    _, version, flags, model_id, width, height, channels, lh, lw, size = _HEADER.unpack_from(data)
    header = Header(model_id, width, height, channels, lh, lw, size, version, flags)
    header.validate()
    return header


def read(data: bytes) -> tuple[Header, bytes]:
    """Parse a whole stream: header, payload and CRC, rejecting any byte too few or too many."""
    header = read_header(data)
    expected = HEADER_SIZE + header.payload_size + CRC_SIZE
    if len(data) < expected:
        raise TruncatedStreamError(f"stream is {len(data)} bytes, header announces {expected}")
    if len(data) > expected:
        raise FormatError(f"{len(data) - expected} unexpected bytes after the end of the stream")
    body, (crc,) = data[:-CRC_SIZE], struct.unpack(">I", data[-CRC_SIZE:])
    if zlib.crc32(body) != crc:
        raise ChecksumError("CRC32 mismatch: the file is corrupt")
    return header, body[HEADER_SIZE:]
