// A model folder as the page sees it: manifest.json, the context model and the ONNX files it lists,
// each checked against the manifest's SHA-256 before use. Nothing here hard-codes a model's shape.

import { ModelError } from "./errors.js";
import { contextId, parseContext } from "./entropy.js";
import { GRID, haloCells } from "./image.js";

const BIT_ORDER = "chw-c-order;plus1=1;msb-first";
const EARLIER_CONTEXT = "earlier_context_"; // compact/roles.py

async function sha256(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parse and check manifest.json; returns what the codec needs. */
export function parseManifest(text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new ModelError(`invalid manifest: ${err.message}`);
  }
  if (m.manifest_version !== 1) throw new ModelError(`unsupported manifest version ${m.manifest_version}`);
  if (!/^[0-9a-f]{16}$/.test(m.model_id ?? "")) throw new ModelError(`bad model id ${JSON.stringify(m.model_id)} in manifest`);
  if (m.bit_order !== BIT_ORDER) throw new ModelError(`unsupported bit order ${JSON.stringify(m.bit_order)}`);
  const latentChannels = m.config?.latent_channels;
  if (!(latentChannels >= 1)) throw new ModelError("manifest has no config.latent_channels");
  const levels = m.config.levels?.length ? m.config.levels : [latentChannels];
  return {
    manifest: m,
    modelId: m.model_id,
    modelIdBytes: Uint8Array.from(m.model_id.match(/../g), (h) => parseInt(h, 16)),
    latentChannels,
    levels,
    // The paper's operating point (16 channels) when the model offers it, else the top level.
    defaultQuality: levels.includes(16) ? levels.indexOf(16) + 1 : levels.length,
    // Run the decode-side grid filter (degrid.js) on what the decoder draws, as the Python reader does.
    degrid: m.degrid === true,
    // The Python reader's tiles, with the halo this model's decoder needs.
    grid: { core: GRID.core, halo: haloCells(m.config) },
    context: null,
    contextId: null,
    // Context models kept from before the current one, by id: they only read old streams.
    earlierContexts: {},
  };
}

/** Fetch a file the manifest lists under `role`, checked against its hash. */
export async function fetchModelFile(base, model, role) {
  const rel = model.manifest.files?.[role];
  if (!rel) throw new ModelError(`model has no ${role.replace(/_/g, " ")} file (export it first)`);
  const response = await fetch(new URL(rel, base));
  if (!response.ok) throw new ModelError(`model file missing: ${rel} (HTTP ${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if ((await sha256(bytes)) !== model.manifest.hashes?.[rel]) {
    throw new ModelError(`model file ${rel} does not match the hash in its manifest`);
  }
  return bytes;
}

/** Attach the context models the manifest lists: the current one, and those kept for old streams.
 * `readRole(role)` gives a listed file's text. */
export async function attachContexts(model, readRole) {
  if (model.manifest.files?.context) {
    model.context = parseContext(await readRole("context"));
    model.contextId = await contextId(model.context);
  }
  for (const role of Object.keys(model.manifest.files ?? {})) {
    if (!role.startsWith(EARLIER_CONTEXT)) continue;
    const earlier = parseContext(await readRole(role));
    const id = await contextId(earlier);
    if (role !== EARLIER_CONTEXT + id) throw new ModelError(`${role} holds context model ${id}`);
    model.earlierContexts[id] = earlier;
  }
  return model;
}

/** Load manifest.json (and the context models it lists) from a folder URL. */
export async function loadModel(base) {
  const response = await fetch(new URL("manifest.json", base));
  if (!response.ok) throw new ModelError(`no manifest.json at ${base} (HTTP ${response.status})`);
  const model = parseManifest(await response.text());
  const decoder = new TextDecoder();
  return attachContexts(model, async (role) => decoder.decode(await fetchModelFile(base, model, role)));
}
