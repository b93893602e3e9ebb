// Streams to pixels and back. `runtime` runs the networks (runtime.js wraps onnxruntime-web); the rest
// is plain JavaScript, so the parsing and coding run (and are tested) in Node as well.

import { pack, unpack } from "./bits.js";
import { applyColour, fitColour, parseColour } from "./colour.js";
import { ENTROPY_CODED, RAW, STRIDE, latentSize, read, write } from "./container.js";
import * as entropy from "./entropy.js";
import { degridInto } from "./degrid.js";
import { ImageError, ModelMismatchError } from "./errors.js";
import { modelInput, needsTiling, spans, writePixels } from "./image.js";

/** Pillow's decompression-bomb threshold, the Python reader's default limit. */
export const MAX_PIXELS = 89478485;

const now = () => globalThis.performance?.now() ?? Date.now();

/** Parse and check a stream against the model: header, the (C, h, w) code as 0/1 bytes, extension blocks. */
export function parseStream(data, model, maxPixels = MAX_PIXELS) {
  const { header, payload, alpha, icc, colour } = read(data);
  if (header.width * header.height > maxPixels) {
    throw new ImageError(`stream declares ${header.width}x${header.height} pixels, over the limit of ${maxPixels}`);
  }
  if (header.modelIdHex !== model.modelId) {
    throw new ModelMismatchError(
      `stream was made by model ${header.modelIdHex}, but the loaded model is ${model.modelId}`);
  }
  if (!model.levels.includes(header.channels)) {
    throw new ModelMismatchError(
      `stream has ${header.channels} latent channels, the model's levels are [${model.levels.join(", ")}]`);
  }
  const shape = [header.channels, header.latentHeight, header.latentWidth];
  if (header.version === RAW) {
    return { header, code: unpack(payload, shape[0] * shape[1] * shape[2]), alpha, icc, colour };
  }
  const context = header.contextIdHex === model.contextId ? model.context
    : model.earlierContexts?.[header.contextIdHex];
  if (!context) {
    throw new ModelMismatchError(
      `stream was entropy-coded with context model ${header.contextIdHex}, this model has ${model.contextId ?? "none"}`);
  }
  return { header, code: entropy.decode(payload, shape, context), alpha, icc, colour };
}

/**
 * Decode a stream to RGBA pixels (alpha 255 unless the stream has an alpha block, which `decodeAlpha`
 * turns into a plane). Returns {header, rgba, icc, timings: {entropy, network} in ms, tiles}.
 */
export async function decompress(data, model, runtime, { decodeAlpha = null, grid = model.grid, forceTiles = false } = {}) {
  const t0 = now();
  const { header, code, alpha, icc, colour } = parseStream(data, model);
  const t1 = now();
  const { width, height } = header;
  const { rgba, tiles } = await decodePixels(code, header, model, runtime, grid, forceTiles);
  const t2 = now();
  if (colour) applyColour(rgba, parseColour(colour));
  if (alpha && decodeAlpha) {
    const plane = await decodeAlpha(alpha, width, height);
    for (let i = 0; i < plane.length; i++) rgba[4 * i + 3] = plane[i];
  }
  return { header, rgba, icc, tiles, timings: { entropy: t1 - t0, network: t2 - t1, total: now() - t0 } };
}

/**
 * The decoder network's picture of a (C', h, w) code, as opaque RGBA, whole or in tiles, through the grid
 * filter when the model's manifest asks for it (as the Python reader): {rgba, tiles}.
 */
async function decodePixels(code, header, model, runtime, grid, forceTiles) {
  const { width, height, latentHeight: h, latentWidth: w } = header;
  const channels = model.latentChannels;
  // The decoder reads sent bits as +-1 and unsent channels (a lower quality level) as 0.
  const symbols = new Float32Array(channels * h * w);
  for (let i = 0; i < code.length; i++) symbols[i] = code[i] ? 1 : -1;
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  // with the filter, the network's picture goes first into sixteenths of a level (degrid.js)
  const fine = model.degrid ? new Uint16Array(width * height * 3) : null;
  const target = fine ?? rgba;
  const format = fine ? { stride: 3, top: 4080 } : {};
  let tiles = 1;
  if (forceTiles || needsTiling(height, width)) {
    const rows = spans(h, grid);
    const cols = spans(w, grid);
    tiles = rows.length * cols.length;
    for (const [r0, r1, i0, i1] of rows) {
      for (const [c0, c1, j0, j1] of cols) {
        const tile = cropCells(symbols, channels, h, w, i0, i1, j0, j1);
        const out = await runtime.decode(tile, channels, i1 - i0, j1 - j0);
        writePixels(out, (i1 - i0) * STRIDE, (j1 - j0) * STRIDE, (r0 - i0) * STRIDE, (c0 - j0) * STRIDE,
          target, width, height, r0 * STRIDE, r1 * STRIDE, c0 * STRIDE, c1 * STRIDE, format);
      }
    }
  } else {
    const out = await runtime.decode(symbols, channels, h, w);
    writePixels(out, h * STRIDE, w * STRIDE, 0, 0, target, width, height, 0, height, 0, width, format);
  }
  if (fine) degridInto(fine, width, height, rgba);
  return { rgba, tiles };
}

function cropCells(symbols, channels, h, w, i0, i1, j0, j1) {
  const th = i1 - i0;
  const tw = j1 - j0;
  const out = new Float32Array(channels * th * tw);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < th; y++) {
      const src = c * h * w + (i0 + y) * w + j0;
      out.set(symbols.subarray(src, src + tw), (c * th + y) * tw);
    }
  }
  return out;
}

async function encodeLatent(rgba, width, height, model, runtime, grid, forceTiles) {
  const [h, w] = latentSize(width, height);
  const channels = model.latentChannels;
  if (!forceTiles && !needsTiling(height, width)) {
    return runtime.encode(modelInput(rgba, width, height, 0, h * STRIDE, 0, w * STRIDE), h * STRIDE, w * STRIDE);
  }
  const latent = new Float32Array(channels * h * w);
  for (const [r0, r1, i0, i1] of spans(h, grid)) {
    for (const [c0, c1, j0, j1] of spans(w, grid)) {
      const th = i1 - i0;
      const tw = j1 - j0;
      const input = modelInput(rgba, width, height, i0 * STRIDE, i1 * STRIDE, j0 * STRIDE, j1 * STRIDE);
      const out = await runtime.encode(input, th * STRIDE, tw * STRIDE);
      for (let c = 0; c < channels; c++) {
        for (let y = r0; y < r1; y++) {
          const src = (c * th + y - i0) * tw + (c0 - j0);
          latent.set(out.subarray(src, src + c1 - c0), c * h * w + y * w + c0);
        }
      }
    }
  }
  return latent;
}

/**
 * RGBA pixels -> a stream, as the Python writer makes it: the first `levels[quality - 1]` channels of
 * the code, version 2 when the context model makes it smaller, an alpha block when `alphaPng` is given, and
 * (unless `colour` is false) the colour block fitted on this runtime's decode of the code.
 */
export async function compress(rgba, width, height, model, runtime,
  { quality = model.defaultQuality, alphaPng = null, grid = model.grid, forceTiles = false, colour = true } = {}) {
  if (!(width >= 1 && height >= 1 && width <= 65535 && height <= 65535)) {
    throw new ImageError(`${width}x${height} exceeds the format's limit of 65535 px per side`);
  }
  if (!(quality >= 1 && quality <= model.levels.length)) {
    throw new ImageError(`quality must be 1..${model.levels.length} for this model, got ${quality}`);
  }
  const sent = model.levels[quality - 1];
  const [h, w] = latentSize(width, height);
  const latent = await encodeLatent(rgba, width, height, model, runtime, grid, forceTiles);
  const code = new Uint8Array(sent * h * w);
  for (let i = 0; i < code.length; i++) code[i] = latent[i] >= 0 ? 1 : 0;
  let header = { version: RAW, modelId: model.modelIdBytes, width, height, channels: sent, latentHeight: h,
    latentWidth: w };
  let payload = pack(code);
  if (model.context) {
    const coded = entropy.encode(code, [sent, h, w], model.context);
    if (coded.length < payload.length) {
      const contextId = Uint8Array.from(model.contextId.match(/../g), (x) => parseInt(x, 16));
      header = { ...header, version: ENTROPY_CODED, contextId };
      payload = coded;
    }
  }
  let colourBlock = null;
  if (colour) {
    const decoded = await decodePixels(code, header, model, runtime, grid, forceTiles);
    colourBlock = fitColour(decoded.rgba, rgba);
  }
  return write(header, payload, { alpha: alphaPng, colour: colourBlock });
}
