// The page: load the model, then decode dropped .cpt files (or compress dropped images) and show them.
// State for tests and scripts: body[data-state] = loading | ready | busy | done | error, body[data-seq]
// counts finished jobs, window.compactResult describes the last one.

import * as ort from "./ort/ort.min.mjs";
import { decodeAlphaBlock } from "./lib/alpha.js";
import { MAX_PIXELS, compress, decompress } from "./lib/codec.js";
import { CompactError, ImageError } from "./lib/errors.js";
import { loadModel } from "./lib/model.js";
import { encodeGreyPng } from "./lib/png.js";
import { createRuntime } from "./lib/runtime.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
// ?tile=N decodes and encodes in tiles of N code cells whatever the size (to test the tiled path).
const tile = Number(params.get("tile")) || 0;
/** Options that force tiles of `tile` cells with the model's own halo, or none. */
const tiling = () => (tile ? { grid: { core: tile, halo: model.grid.halo }, forceTiles: true } : {});
let model;
let runtime;
let seq = 0;
let downloadUrl = null;

ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
if (params.get("threads")) ort.env.wasm.numThreads = Number(params.get("threads"));

function setState(state) {
  document.body.dataset.state = state;
}

function finish(result) {
  seq += 1;
  window.compactResult = { seq, ...result };
  document.body.dataset.seq = String(seq);
  setState(result.ok ? "done" : "error");
}

function showError(err) {
  // Never leave a blank or stale canvas: the message replaces the picture.
  $("view").hidden = true;
  $("info").hidden = true;
  $("download").hidden = true;
  $("error").textContent = `error: ${err.message}`;
  $("error").hidden = false;
  if (!(err instanceof CompactError)) console.error(err); // a bug or a browser limit, not a bad file
}

function showInfo(rows) {
  const info = $("info");
  info.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
  info.hidden = false;
}

function draw(rgba, width, height) {
  const canvas = $("view");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  canvas.hidden = false;
  $("error").hidden = true;
}

const isImage = (bytes, file) =>
  (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) // PNG
  || (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) // JPEG
  || (file.type.startsWith("image/") && !file.name.toLowerCase().endsWith(".cpt"));

/** The file's pixels as RGBA bytes, without colour conversion, EXIF orientation applied. */
async function readImage(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none",
      imageOrientation: "from-image" });
  } catch (err) {
    throw new ImageError(`cannot read image ${file.name}: ${err.message}`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    throw new ImageError(`${file.name} has ${width}x${height} pixels, over the limit of ${MAX_PIXELS}`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { width, height, rgba: context.getImageData(0, 0, width, height).data };
}

async function compressImage(file) {
  const { width, height, rgba } = await readImage(file);
  let alphaPng = null;
  const alpha = new Uint8Array(width * height);
  let opaque = true;
  for (let i = 0; i < alpha.length; i++) {
    alpha[i] = rgba[4 * i + 3];
    opaque &&= alpha[i] === 255;
  }
  if (!opaque) alphaPng = await encodeGreyPng(alpha, width, height);
  const t0 = performance.now();
  const stream = await compress(rgba, width, height, model, runtime,
    { quality: Number($("quality").value), alphaPng, ...tiling() });
  return { stream, encodeMs: performance.now() - t0 };
}

async function handle(file) {
  setState("busy");
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let stream = bytes;
    let encodeMs = null;
    if (isImage(bytes, file)) ({ stream, encodeMs } = await compressImage(file));
    const r = await decompress(stream, model, runtime, { decodeAlpha: decodeAlphaBlock, ...tiling() });
    const { width, height, channels, version } = r.header;
    draw(r.rgba, width, height);
    const bpp = (stream.length * 8) / (width * height);
    const rows = [
      ["file", file.name],
      ["image", `${width} × ${height} px${r.header.flags & 1 ? ", with alpha" : ""}${r.icc ? ", ICC profile (not applied)" : ""}`],
      ["stream", `${stream.length.toLocaleString("en")} bytes, version ${version}, ${channels} channels`],
      ["bits per pixel", bpp.toFixed(4)],
      ["decode time", `${r.timings.total.toFixed(1)} ms (entropy ${r.timings.entropy.toFixed(1)} ms, network ${r.timings.network.toFixed(1)} ms${r.tiles > 1 ? `, ${r.tiles} tiles` : ""})`],
      ["runtime", `onnxruntime-web ${ort.env.versions?.web ?? ""}, ${runtime.provider}`],
    ];
    if (encodeMs !== null) rows.splice(3, 0, ["encode time", `${encodeMs.toFixed(1)} ms (in this page)`]);
    showInfo(rows);
    if (encodeMs !== null) {
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      downloadUrl = URL.createObjectURL(new Blob([stream], { type: "application/octet-stream" }));
      Object.assign($("download"), { href: downloadUrl, download: file.name.replace(/\.[^.]*$/, "") + ".cpt", hidden: false });
    } else {
      $("download").hidden = true;
    }
    finish({ ok: true, width, height, bytes: stream.length, bpp, version, channels, timings: r.timings,
      provider: runtime.provider, tiles: r.tiles, compressed: encodeMs !== null,
      stream: encodeMs !== null ? stream : null });
  } catch (err) {
    showError(err);
    finish({ ok: false, error: err.name, message: err.message });
  }
}

function setUp() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    e.target.value = ""; // picking the same file again must decode it again
    if (file) handle(file);
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) handle(e.dataTransfer.files[0]);
  });
  const quality = $("quality");
  model.levels.forEach((channels, i) => {
    const option = new Option(`${i + 1} (${channels} channels)`, String(i + 1));
    option.selected = i + 1 === model.defaultQuality;
    quality.add(option);
  });
  $("controls").hidden = model.levels.length < 2;
}

async function main() {
  try {
    model = await loadModel(new URL("model/", location.href));
    runtime = await createRuntime(ort, new URL("model/", location.href), model, { backend: params.get("backend") ?? "auto" });
    $("model").textContent = `model ${model.modelId}: ${model.latentChannels} code channels, `
      + `levels [${model.levels.join(", ")}], context ${model.contextId ?? "none"}; ${runtime.provider} backend`;
    setUp();
    setState("ready");
  } catch (err) {
    $("model").textContent = "the model could not be loaded";
    showError(err);
    setState("failed");
  }
}

main();
