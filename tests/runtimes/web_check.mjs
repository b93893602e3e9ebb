// Runs the browser runtime's pure-JS parts in Node for tests/runtimes/test_web_entropy.py.
// Usage: node web_check.mjs JOBS.json -> JSON results on stdout.
//   {"context": "<context.json text>", "entropy": [{"shape": [C, h, w], "code": b64 packed bits, "stream": b64}],
//    "containers": [b64 stream, ...],
//    "colour": [{"decoded": b64 RGB, "original": b64 RGB, "block": b64 block to apply}],
//    "manifests": ["<manifest.json text>", ...],
//    "tiling": [{"manifest": "<manifest.json text>", "stream": b64 version 1 stream}],
//    "codes": [{"manifest": "<manifest.json text>", "files": {role: text}, "stream": b64}],
//    "degrid": [{"width": W, "height": H, "fine": b64 little-endian uint16 HxWx3}],
//    "drawn": [{"manifest": "<manifest.json text>", "stream": b64, "picture": b64 float32 [3, H', W']}]}

import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { pack, unpack } from "../../compact/runtimes/web/lib/bits.js";
import { applyColour, fitColour, parseColour } from "../../compact/runtimes/web/lib/colour.js";
import { read } from "../../compact/runtimes/web/lib/container.js";
import { contextId, decode, encode, parseContext } from "../../compact/runtimes/web/lib/entropy.js";
import { decompress } from "../../compact/runtimes/web/lib/codec.js";
import { degridInto } from "../../compact/runtimes/web/lib/degrid.js";
import { attachContexts, parseManifest } from "../../compact/runtimes/web/lib/model.js";

globalThis.crypto ??= webcrypto; // Node 18 has no global crypto

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const bytes = (text) => new Uint8Array(Buffer.from(text, "base64"));

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const result = { entropy: [], containers: [], colour: [], grids: [], tiles: [], codes: [], degrid: [], drawn: [] };
if (jobs.context) {
  const context = parseContext(jobs.context);
  result.context_id = await contextId(context);
  for (const job of jobs.entropy ?? []) {
    const count = job.shape[0] * job.shape[1] * job.shape[2];
    const code = unpack(bytes(job.code), count);
    let decoded;
    try {
      decoded = b64(pack(decode(bytes(job.stream), job.shape, context)));
    } catch (err) {
      decoded = `${err.name}: ${err.message}`;
    }
    result.entropy.push({ decoded, encoded: b64(encode(code, job.shape, context)) });
  }
}
for (const stream of jobs.containers ?? []) {
  try {
    const { header, payload, alpha, icc, colour } = read(bytes(stream));
    result.containers.push({ ok: true, version: header.version, width: header.width, height: header.height,
      channels: header.channels, payload: b64(payload), alpha: alpha && b64(alpha), icc: icc && b64(icc),
      colour: colour && b64(colour) });
  } catch (err) {
    result.containers.push({ ok: false, error: err.name, message: err.message });
  }
}
const rgba = (rgb) => {
  const out = new Uint8ClampedArray((rgb.length / 3) * 4).fill(255);
  for (let i = 0; i < rgb.length / 3; i++) out.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
  return out;
};
const rgb = (pixels) => Uint8Array.from(pixels.filter((_, i) => i % 4 !== 3));
for (const job of jobs.colour ?? []) {
  const decoded = rgba(bytes(job.decoded));
  const fitted = fitColour(decoded, rgba(bytes(job.original)));
  applyColour(decoded, parseColour(bytes(job.block)));
  result.colour.push({ fitted: fitted && b64(fitted), applied: b64(rgb(decoded)) });
}
for (const text of jobs.manifests ?? []) result.grids.push(parseManifest(text).grid);
// The tiles the page's decoder asks the network for (forced tiles, default grid), with a stand-in network.
for (const job of jobs.tiling ?? []) {
  const shapes = [];
  const runtime = { decode: async (tile, channels, h, w) => { shapes.push([h, w]); return new Float32Array(3 * h * w * 256); } };
  await decompress(bytes(job.stream), parseManifest(job.manifest), runtime, { forceTiles: true });
  result.tiles.push(shapes);
}
// The code the page's decoder hands its network, with the model's context models attached as loadModel does.
for (const job of jobs.codes ?? []) {
  let code = null;
  const runtime = { decode: async (tile, channels, h, w) => {
    code = b64(Uint8Array.from(tile.subarray(0, channels * h * w), (v) => (v > 0 ? 1 : 0)));
    return new Float32Array(3 * h * w * 256);
  } };
  try {
    const model = await attachContexts(parseManifest(job.manifest), async (role) => job.files[role]);
    await decompress(bytes(job.stream), model, runtime);
    result.codes.push(code);
  } catch (err) {
    result.codes.push(`${err.name}: ${err.message}`);
  }
}
// The grid filter alone, on sixteenths of a level.
const typed = (text, Type) => {
  const buf = Buffer.from(text, "base64");
  return new Type(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
};
for (const job of jobs.degrid ?? []) {
  const rgba = new Uint8ClampedArray(job.width * job.height * 4).fill(255);
  degridInto(typed(job.fine, Uint16Array), job.width, job.height, rgba);
  result.degrid.push(b64(rgb(rgba)));
}
// A whole decode whose stand-in network draws the given picture (whatever the code), colour block and all.
for (const job of jobs.drawn ?? []) {
  const picture = typed(job.picture, Float32Array);
  const runtime = { decode: async () => picture };
  const { rgba } = await decompress(bytes(job.stream), parseManifest(job.manifest), runtime);
  result.drawn.push(b64(rgb(rgba)));
}
process.stdout.write(JSON.stringify(result));
