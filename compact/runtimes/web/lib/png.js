// Just enough PNG for the alpha block: read a PNG's header (to check it before decoding, as the
// spec asks) and write an 8-bit greyscale PNG (what a writer stores). Pixels are decoded by the browser.

import { crc32 } from "./crc32.js";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
// Pillow's names for PNG colour types, so messages read like the Python reader's.
const MODES = { 0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA" };

/** {width, height, mode} from the IHDR chunk, or null when the bytes are not a PNG. */
export function pngInfo(bytes) {
  if (bytes.length < 33 || !SIGNATURE.every((b, i) => bytes[i] === b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") return null;
  const depth = bytes[24];
  const type = bytes[25];
  let mode = MODES[type] ?? `colour type ${type}`;
  if (type === 0 && depth === 1) mode = "1";
  else if (type === 0 && depth === 16) mode = "I;16";
  else if (type === 0 && depth !== 8) mode = "L";
  return { width: view.getUint32(16), height: view.getUint32(20), mode, depth };
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

async function zlib(bytes) {
  // CompressionStream("deflate") is the zlib format PNG wants.
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An 8-bit greyscale PNG of a width x height plane (filter "Up", which suits smooth alpha). */
export async function encodeGreyPng(plane, width, height) {
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width + 1);
    raw[row] = y ? 2 : 0;
    for (let x = 0; x < width; x++) {
      const v = plane[y * width + x];
      raw[row + 1 + x] = y ? (v - plane[(y - 1) * width + x]) & 0xff : v;
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8 bits, greyscale, deflate, adaptive filtering, no interlace
  const parts = [Uint8Array.from(SIGNATURE), chunk("IHDR", ihdr), chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}
