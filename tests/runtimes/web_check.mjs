// Runs the browser runtime's pure-JS parts in Node for tests/runtimes/test_web_entropy.py.
// Usage: node web_check.mjs JOBS.json -> JSON results on stdout.
//   {"context": "<context.json text>", "entropy": [{"shape": [C, h, w], "code": b64 packed bits, "stream": b64}],
//    "containers": [b64 stream, ...]}

import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { pack, unpack } from "../../compact/runtimes/web/lib/bits.js";
import { read } from "../../compact/runtimes/web/lib/container.js";
import { contextId, decode, encode, parseContext } from "../../compact/runtimes/web/lib/entropy.js";

globalThis.crypto ??= webcrypto; // Node 18 has no global crypto

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const bytes = (text) => new Uint8Array(Buffer.from(text, "base64"));

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const result = { entropy: [], containers: [] };
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
    const { header, payload, alpha, icc } = read(bytes(stream));
    result.containers.push({ ok: true, version: header.version, width: header.width, height: header.height,
      channels: header.channels, payload: b64(payload), alpha: alpha && b64(alpha), icc: icc && b64(icc) });
  } catch (err) {
    result.containers.push({ ok: false, error: err.name, message: err.message });
  }
}
process.stdout.write(JSON.stringify(result));
