// The alpha block in the browser: check the PNG's header as the spec asks, then let the browser decode it.

import { FormatError } from "./errors.js";
import { pngInfo } from "./png.js";

export async function decodeAlphaBlock(bytes, width, height) {
  const info = pngInfo(bytes);
  if (!info) throw new FormatError("alpha block is corrupt: not a PNG file");
  if (info.width !== width || info.height !== height || info.mode !== "L") {
    throw new FormatError(
      `alpha block is a PNG ${info.mode} (${info.width}, ${info.height}), not a ${width}x${height} L PNG`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }),
      { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch (err) {
    throw new FormatError(`alpha block is corrupt: ${err.message}`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const plane = new Uint8Array(width * height);
  for (let i = 0; i < plane.length; i++) plane[i] = rgba[4 * i];
  return plane;
}
