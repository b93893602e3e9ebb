// Version 2 payloads: the code bits in the context model's schedule (docs/FORMAT.md, "Version 2").
// Channel by channel; within a channel the anchor cells ((row + col) even) first, then the others.

import { FormatError, ModelError } from "./errors.js";
import { CORRUPT, CorruptPayload, RangeDecoder, RangeEncoder } from "./rangecoder.js";

const PREV_CHANNELS = 4; // layout 1: the parents are channels c-1 ... c-4
const MAX_PARENTS = 8; // layout 2: up to 8 parents listed per (channel, pass)
const NEIGHBOUR_STATES = 5;

function width(parentBits) {
  return (1 << parentBits) * NEIGHBOUR_STATES;
}

/** Layout 1's parents of every (channel, pass). */
function previousChannels(channels) {
  const rows = [];
  for (let c = 0; c < channels; c++) {
    const prev = [];
    for (let k = 1; k <= PREV_CHANNELS && c - k >= 0; k++) prev.push(c - k);
    rows.push([prev, prev]);
  }
  return rows;
}

function checkParents(parents, channels) {
  const ok = Array.isArray(parents) && parents.length === channels && parents.every((rows, c) =>
    Array.isArray(rows) && rows.length === 2 && rows.every((row) =>
      Array.isArray(row) && row.length <= MAX_PARENTS && new Set(row).size === row.length
      && row.every((q) => Number.isInteger(q) && q >= 0 && q < c)));
  if (!ok) {
    throw new ModelError("context model parents must list, per channel and pass, distinct earlier channels "
      + `(at most ${MAX_PARENTS})`);
  }
}

/** Parse context.json into {channels, width, parents, table (flat Uint32Array), canonical (the text the id
 * hashes)}. Layout 1 has fixed parents; layout 2 lists them (docs/FORMAT.md, "Version 2"). */
export function parseContext(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ModelError(`invalid context model: ${err.message}`);
  }
  const layout1 = data?.version === 1 && data.prev_channels === PREV_CHANNELS && !("parent_bits" in data);
  const layout2 = data?.version === 2 && data.parent_bits === MAX_PARENTS && !("prev_channels" in data);
  if (!(layout1 || layout2) || data.prob_bits !== 16) {
    throw new ModelError("unsupported context model version or layout");
  }
  const contexts = width(layout1 ? PREV_CHANNELS : MAX_PARENTS);
  const shape = data.shape;
  const table = Array.isArray(data.table) ? data.table.flat(Infinity) : [];
  if (!Array.isArray(shape) || shape.length !== 3 || !(shape[0] >= 1) || shape[1] !== 2 || shape[2] !== contexts
      || table.length !== shape[0] * 2 * contexts) {
    throw new ModelError(`context table has shape ${JSON.stringify(shape)}`);
  }
  if (!table.every((q) => Number.isInteger(q) && q >= 1 && q < 65536)) {
    throw new ModelError("context table has probabilities outside 1..65535");
  }
  if (layout2) checkParents(data.parents, shape[0]);
  // The canonical form (keys in this order, no whitespace, flat table) is what the context id hashes.
  const canonical = layout1
    ? JSON.stringify({ version: 1, prev_channels: PREV_CHANNELS, prob_bits: 16, shape, table })
    : JSON.stringify({ version: 2, parent_bits: MAX_PARENTS, prob_bits: 16, parents: data.parents, shape, table });
  const parents = layout1 ? previousChannels(shape[0]) : data.parents;
  return { channels: shape[0], width: contexts, parents, table: Uint32Array.from(table), canonical };
}

/** First 4 bytes of SHA-256 over the canonical JSON, as 8 hex digits. */
export async function contextId(context) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(context.canonical));
  return Array.from(new Uint8Array(digest).slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Context index of cell (row, col) of channel c in pass p, from bits already known. */
function contextOf(bits, c, p, parents, row, col, h, w) {
  const plane = h * w;
  const i = row * w + col;
  let index = 0;
  for (let k = 0; k < parents.length; k++) index |= bits[parents[k] * plane + i] << k;
  let nb = 0;
  const source = p === 0 ? c - 1 : c; // anchors look at channel c-1, the others at their anchor neighbours
  if (source >= 0) {
    const base = source * plane + i;
    if (row > 0) nb += bits[base - w];
    if (row < h - 1) nb += bits[base + w];
    if (col > 0) nb += bits[base - 1];
    if (col < w - 1) nb += bits[base + 1];
  }
  return index * NEIGHBOUR_STATES + nb;
}

/** Visit every cell in coding order: fn(index, probability entry). */
function schedule(bits, [channels, h, w], context, fn) {
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < 2; p++) {
      const row0 = (c * 2 + p) * context.width;
      const parents = context.parents[c][p];
      for (let row = 0; row < h; row++) {
        for (let col = (row + p) & 1; col < w; col += 2) {
          fn(c * h * w + row * w + col, context.table[row0 + contextOf(bits, c, p, parents, row, col, h, w)]);
        }
      }
    }
  }
}

function checkChannels(channels, context, what) {
  if (!(channels >= 1 && channels <= context.channels)) {
    throw new ModelError(`${what} has ${channels} channels, the context model ${context.channels}`);
  }
}

/** Payload bytes -> one byte (0/1) per bit, in (C, h, w) C order. */
export function decode(payload, shape, context) {
  if (payload.length % 4) throw new FormatError("entropy-coded payload is not a whole number of 32-bit words");
  checkChannels(shape[0], context, "stream");
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const words = new Uint32Array(payload.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint32(4 * i); // big-endian
  const decoder = new RangeDecoder(words);
  const bits = new Uint8Array(shape[0] * shape[1] * shape[2]);
  try {
    schedule(bits, shape, context, (i, q) => { bits[i] = decoder.decode(q); });
  } catch (err) {
    if (err instanceof CorruptPayload) throw new FormatError(`entropy-coded payload is corrupt: ${CORRUPT}`);
    throw err;
  }
  return bits;
}

/** One byte (0/1) per bit in (C, h, w) C order -> payload bytes (big-endian words). */
export function encode(bits, shape, context) {
  checkChannels(shape[0], context, "code");
  const encoder = new RangeEncoder();
  schedule(bits, shape, context, (i, q) => encoder.encode(bits[i], q));
  const words = encoder.finish();
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  words.forEach((word, i) => view.setUint32(4 * i, word));
  return out;
}
