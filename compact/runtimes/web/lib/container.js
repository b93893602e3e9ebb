// The COMPACT container, versions 1 and 2 with their extension blocks, as docs/FORMAT.md specifies it byte by byte.

import { packedSize } from "./bits.js";
import { crc32 } from "./crc32.js";
import { ChecksumError, FormatError, TruncatedStreamError } from "./errors.js";

export const MAGIC = [0x43, 0x50, 0x43, 0x54]; // "CPCT"
export const RAW = 1;
export const ENTROPY_CODED = 2;
export const HEADER_SIZES = { [RAW]: 32, [ENTROPY_CODED]: 36 };
export const FLAG_ALPHA = 0x01;
export const FLAG_ICC = 0x02;
export const FLAG_COLOUR = 0x04;
const KNOWN_FLAGS = FLAG_ALPHA | FLAG_ICC | FLAG_COLOUR;
/** Bytes of the colour block (colour.js). */
export const COLOUR_BLOCK_SIZE = 15;
export const MAX_SIDE = 65535;
const MAX_CHANNELS = 1024;
export const MAX_BLOCK = 64 * 1024 * 1024;
export const STRIDE = 16;
const CRC_SIZE = 4;

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const shape = (h) => `(${h.channels}, ${h.latentHeight}, ${h.latentWidth})`;

export function latentSize(width, height) {
  return [Math.ceil(height / STRIDE), Math.ceil(width / STRIDE)];
}

/** Every field rule of the spec; throws FormatError on the first one broken. */
export function validate(h) {
  if (h.version !== RAW && h.version !== ENTROPY_CODED) {
    throw new FormatError(`unsupported container version ${h.version} (this reader knows 1 and 2)`);
  }
  if (h.flags & ~KNOWN_FLAGS) throw new FormatError(`unknown flags 0x${h.flags.toString(16).padStart(2, "0")}`);
  if (!(h.width >= 1 && h.width <= MAX_SIDE && h.height >= 1 && h.height <= MAX_SIDE)) {
    throw new FormatError(`image size ${h.width}x${h.height} is out of range 1..${MAX_SIDE}`);
  }
  if (!(h.channels >= 1 && h.channels <= MAX_CHANNELS)) {
    throw new FormatError(`latent channel count ${h.channels} is out of range`);
  }
  const [lh, lw] = latentSize(h.width, h.height);
  if (h.latentHeight !== lh || h.latentWidth !== lw) {
    throw new FormatError(`latent ${h.latentHeight}x${h.latentWidth} does not fit image ${h.width}x${h.height}`);
  }
  const raw = packedSize(h.channels * lh * lw);
  if (h.version === RAW && h.payloadSize !== raw) {
    throw new FormatError(`payload size ${h.payloadSize} does not match latent ${shape(h)}`);
  }
  if (h.version === ENTROPY_CODED && !(h.payloadSize % 4 === 0 && h.payloadSize > 0 && h.payloadSize < raw)) {
    throw new FormatError(`payload size ${h.payloadSize} is invalid for latent ${shape(h)}`);
  }
}

/** Parse and validate the fixed header only. */
export function readHeader(data) {
  // A stream shorter than the magic that starts like it is truncated, not foreign.
  const magicOk = MAGIC.slice(0, Math.min(data.length, 4)).every((b, i) => data[i] === b);
  if (!magicOk) throw new FormatError("not a COMPACT file (bad magic)");
  if (data.length < 5) throw new TruncatedStreamError(`stream is ${data.length} bytes, shorter than any header`);
  const version = data[4];
  if (version !== RAW && version !== ENTROPY_CODED) {
    throw new FormatError(`unsupported container version ${version} (this reader knows 1 and 2)`);
  }
  const size = HEADER_SIZES[version];
  if (data.length < size) {
    throw new TruncatedStreamError(`stream is ${data.length} bytes, shorter than the ${size}-byte header`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 14;
  const contextId = version === ENTROPY_CODED ? data.slice(14, 18) : new Uint8Array(0);
  if (version === ENTROPY_CODED) pos = 18;
  const header = {
    version,
    flags: data[5],
    modelId: data.slice(6, 14),
    contextId,
    width: view.getUint32(pos),
    height: view.getUint32(pos + 4),
    channels: view.getUint16(pos + 8),
    latentHeight: view.getUint16(pos + 10),
    latentWidth: view.getUint16(pos + 12),
    payloadSize: view.getUint32(pos + 14),
    headerSize: size,
  };
  header.modelIdHex = hex(header.modelId);
  header.contextIdHex = hex(header.contextId);
  validate(header);
  return header;
}

/** Parse a whole stream, rejecting any byte too few or too many, then check the CRC. */
export function read(data) {
  const header = readHeader(data);
  let pos = header.headerSize + header.payloadSize;
  if (data.length < pos + CRC_SIZE) {
    throw new TruncatedStreamError(`stream is ${data.length} bytes, header announces at least ${pos + CRC_SIZE}`);
  }
  const payload = data.subarray(header.headerSize, pos);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const blocks = {};
  for (const [flag, name] of [[FLAG_ALPHA, "alpha"], [FLAG_ICC, "icc"], [FLAG_COLOUR, "colour"]]) {
    if (!(header.flags & flag)) continue;
    if (data.length < pos + 4 + CRC_SIZE) throw new TruncatedStreamError("stream ends inside an extension block header");
    const size = view.getUint32(pos);
    if (size > MAX_BLOCK) {
      throw new FormatError(`extension block of ${size} bytes exceeds the ${MAX_BLOCK}-byte limit`);
    }
    if (data.length < pos + 4 + size + CRC_SIZE) {
      throw new TruncatedStreamError(`stream ends inside a ${size}-byte extension block`);
    }
    if (flag === FLAG_COLOUR && size !== COLOUR_BLOCK_SIZE) {
      throw new FormatError(`colour block is ${size} bytes, expected ${COLOUR_BLOCK_SIZE}`);
    }
    blocks[name] = data.subarray(pos + 4, pos + 4 + size);
    pos += 4 + size;
  }
  if (data.length > pos + CRC_SIZE) {
    throw new FormatError(`${data.length - pos - CRC_SIZE} unexpected bytes after the end of the stream`);
  }
  if (crc32(data, 0, pos) !== view.getUint32(pos)) throw new ChecksumError("CRC32 mismatch: the file is corrupt");
  return { header, payload, alpha: blocks.alpha ?? null, icc: blocks.icc ?? null, colour: blocks.colour ?? null };
}

/** Serialize a stream; `header.flags` is set from the blocks given. */
export function write(header, payload, { alpha = null, icc = null, colour = null } = {}) {
  const flags = (alpha ? FLAG_ALPHA : 0) | (icc ? FLAG_ICC : 0) | (colour ? FLAG_COLOUR : 0);
  const full = { ...header, flags, payloadSize: payload.length };
  validate(full);
  const size = HEADER_SIZES[full.version];
  if (colour && colour.length !== COLOUR_BLOCK_SIZE) {
    throw new FormatError(`colour block is ${colour.length} bytes, expected ${COLOUR_BLOCK_SIZE}`);
  }
  const blocks = [alpha, icc, colour].filter((b) => b);
  const total = size + payload.length + blocks.reduce((s, b) => s + 4 + b.length, 0) + CRC_SIZE;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = full.version;
  out[5] = flags;
  out.set(full.modelId, 6);
  let pos = 14;
  if (full.version === ENTROPY_CODED) {
    out.set(full.contextId, 14);
    pos = 18;
  }
  view.setUint32(pos, full.width);
  view.setUint32(pos + 4, full.height);
  view.setUint16(pos + 8, full.channels);
  view.setUint16(pos + 10, full.latentHeight);
  view.setUint16(pos + 12, full.latentWidth);
  view.setUint32(pos + 14, payload.length);
  out.set(payload, size);
  pos = size + payload.length;
  for (const block of blocks) {
    view.setUint32(pos, block.length);
    out.set(block, pos + 4);
    pos += 4 + block.length;
  }
  view.setUint32(pos, crc32(out, 0, pos));
  return out;
}
