// The networks on onnxruntime-web: WebGPU when the browser has a GPU adapter, else WebAssembly.
// Sessions are created from bytes already checked against the manifest's hashes.

import { fetchModelFile } from "./model.js";

async function gpuAvailable() {
  try {
    return Boolean(globalThis.navigator?.gpu && (await navigator.gpu.requestAdapter()));
  } catch {
    return false;
  }
}

/**
 * {provider, decode(symbols, C, h, w) -> float32 [3, 16h, 16w], encode(pixels, H, W) -> float32 [C, H/16, W/16]}.
 * `backend`: "auto" (WebGPU if possible), "webgpu" or "wasm".
 */
export async function createRuntime(ort, base, model, { backend = "auto" } = {}) {
  const decoderBytes = await fetchModelFile(base, model, "onnx_decoder");
  const wanted = backend === "auto" ? ((await gpuAvailable()) ? "webgpu" : "wasm") : backend;
  const open = (bytes, provider) => ort.InferenceSession.create(bytes, { executionProviders: [provider] });
  let provider = wanted;
  let decoder;
  try {
    decoder = await open(decoderBytes, provider);
  } catch (err) {
    if (provider === "wasm") throw err;
    provider = "wasm"; // a WebGPU adapter that cannot run the graph: fall back rather than fail
    decoder = await open(decoderBytes, provider);
  }
  let encoder = null; // loaded on the first compression only
  const run = async (session, data, dims) => {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, dims) };
    const output = (await session.run(feeds))[session.outputNames[0]];
    return output.getData ? await output.getData() : output.data;
  };
  return {
    provider,
    decode: (symbols, channels, h, w) => run(decoder, symbols, [1, channels, h, w]),
    async encode(pixels, height, width) {
      encoder ??= await open(await fetchModelFile(base, model, "onnx_encoder"), provider);
      return run(encoder, pixels, [1, 3, height, width]);
    },
  };
}
