"""The COMPACT container (specified byte by byte in docs/FORMAT.md).

Version 1 stores the packed code bits; version 2 stores them entropy-coded with the model's context
model, whose id it records. Flags announce optional extension blocks after the code (a lossless alpha
plane, an ICC profile, a colour correction). All integers are big-endian. Each version's header is
fixed-size so a reader can validate every field, and bound every allocation, before touching the payload.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace

from compact.bits import packed_size
from compact.colour import BLOCK_SIZE as COLOUR_BLOCK_SIZE
from compact.errors import ChecksumError, FormatError, TruncatedStreamError
from compact.geometry import latent_size

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
FLAG_ALPHA = 0x01  # an alpha block follows the code: the alpha plane as a PNG (mode L, width x height)
FLAG_ICC = 0x02  # an ICC block follows: the source image's colour profile, to be carried to the output
FLAG_COLOUR = 0x04  # a colour block follows: the writer's colour correction of the decoded pixels (colour.py)
#: Readers reject unknown flags instead of misreading a stream (a reader older than the colour block
#: refuses such a stream with "unknown flags 0x04" rather than showing uncorrected colours).
KNOWN_FLAGS = FLAG_ALPHA | FLAG_ICC | FLAG_COLOUR
_BLOCK_FLAGS = (FLAG_ALPHA, FLAG_ICC, FLAG_COLOUR)
MAX_BLOCK = 64 * 1024 * 1024


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
        if (self.latent_height, self.latent_width) != latent_size(self.height, self.width):
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


@dataclass(frozen=True)
class Extensions:
    """Optional blocks after the code, in flag order: alpha (PNG bytes), ICC profile bytes, colour correction
    (``colour.BLOCK_SIZE`` bytes)."""

    alpha: bytes | None = None
    icc: bytes | None = None
    colour: bytes | None = None

    def _all(self) -> tuple[bytes | None, ...]:
        return (self.alpha, self.icc, self.colour)

    @property
    def flags(self) -> int:
        return sum(flag for flag, block in zip(_BLOCK_FLAGS, self._all(), strict=True) if block is not None)

    def blocks(self) -> list[bytes]:
        return [b for b in self._all() if b is not None]


def write(header: Header, payload: bytes, extensions: Extensions | None = None) -> bytes:
    """Serialize; the header's flags are set from ``extensions``."""
    extensions = extensions or Extensions()
    header = replace(header, flags=extensions.flags)
    header.validate()
    if len(payload) != header.payload_size:
        raise FormatError(f"payload is {len(payload)} bytes, header says {header.payload_size}")
    if any(len(b) > MAX_BLOCK for b in extensions.blocks()):
        raise FormatError(f"an extension block exceeds {MAX_BLOCK} bytes")
    if extensions.colour is not None and len(extensions.colour) != COLOUR_BLOCK_SIZE:
        raise FormatError(f"colour block is {len(extensions.colour)} bytes, expected {COLOUR_BLOCK_SIZE}")
    ids = (header.model_id, header.context_id) if header.version == ENTROPY_CODED else (header.model_id,)
    head = _HEADERS[header.version].pack(
        MAGIC, header.version, header.flags, *ids, header.width, header.height,
        header.channels, header.latent_height, header.latent_width, header.payload_size,
    )  # fmt: skip
    body = head + payload + b"".join(struct.pack(">I", len(b)) + b for b in extensions.blocks())
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


def read(data: bytes) -> tuple[Header, bytes, Extensions]:
    """Parse a whole stream, rejecting any byte too few or too many, then check the CRC."""
    header = read_header(data)
    pos = header.header_size + header.payload_size
    if len(data) < pos + CRC_SIZE:
        raise TruncatedStreamError(f"stream is {len(data)} bytes, header announces at least {pos + CRC_SIZE}")
    payload = data[header.header_size : pos]
    blocks = []
    for flag in _BLOCK_FLAGS:
        if not header.flags & flag:
            blocks.append(None)
            continue
        if len(data) < pos + 4 + CRC_SIZE:
            raise TruncatedStreamError("stream ends inside an extension block header")
        (size,) = struct.unpack_from(">I", data, pos)
        if size > MAX_BLOCK:
            raise FormatError(f"extension block of {size} bytes exceeds the {MAX_BLOCK}-byte limit")
        if len(data) < pos + 4 + size + CRC_SIZE:
            raise TruncatedStreamError(f"stream ends inside a {size}-byte extension block")
        if flag == FLAG_COLOUR and size != COLOUR_BLOCK_SIZE:
            raise FormatError(f"colour block is {size} bytes, expected {COLOUR_BLOCK_SIZE}")
        blocks.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    if len(data) > pos + CRC_SIZE:
        raise FormatError(f"{len(data) - pos - CRC_SIZE} unexpected bytes after the end of the stream")
    (crc,) = struct.unpack(">I", data[pos:])
    if zlib.crc32(data[:pos]) != crc:
        raise ChecksumError("CRC32 mismatch: the file is corrupt")
    return header, payload, Extensions(*blocks)


def describe(data: bytes) -> dict[str, object]:
    """The fields ``compact info`` shows, after checking the whole stream (CRC included)."""
    header, _, extensions = read(data)
    return {
        "version": header.version,
        "flags": f"0x{header.flags:02x}",
        "model id": header.model_id_hex,
        "payload": "entropy-coded, context model " + header.context_id.hex()
        if header.version == ENTROPY_CODED
        else "raw packed bits",
        "image": f"{header.width}x{header.height}",
        "latent (C x h x w)": "x".join(map(str, header.latent_shape)),
        "payload bytes": header.payload_size,
        "alpha": f"{len(extensions.alpha)} bytes (lossless PNG)" if extensions.alpha is not None else "none",
        "icc profile": f"{len(extensions.icc)} bytes" if extensions.icc is not None else "none",
        "colour correction": f"{len(extensions.colour)} bytes" if extensions.colour is not None else "none",
        "file bytes": len(data),
        "bits per pixel": f"{8 * len(data) / (header.width * header.height):.4f}",
        "crc32": "ok",
    }
