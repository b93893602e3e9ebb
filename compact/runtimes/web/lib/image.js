// Pixels in and out of the networks (docs/FORMAT.md, "Geometry"): edge padding to a multiple of 16,
// cropping, clip to [0, 1], x 255, round half to even. Large images go through in tiles of code cells
// with a halo, the same tiles as the Python reader, so both see the same context.

import { STRIDE } from "./container.js";

/** The tile grid of the Python reader: cores of 64 cells (1024 px), halo 4 cells (64 px) for the plain decoder. */
export const GRID = { core: 64, halo: 4 };
export const WHOLE_IMAGE_PIXELS = 4194304;
export const MAX_WHOLE_SIDE = 2048;

/**
 * The halo that makes tiles exact for a model (compact/tiling.py, halo_cells): the decoder's 3x3
 * convolutions reach 3.875 code cells, 4.75 with the binomial filters of smooth_upsampling; the encoder 4.
 */
export function haloCells(config) {
  const reach = 3 + 1 / 2 + 1 / 4 + 1 / 8 + (config?.smooth_upsampling ? 1 / 2 + 1 / 4 + 1 / 8 : 0);
  return Math.max(GRID.halo, Math.ceil(reach));
}

export function needsTiling(height, width) {
  const hp = Math.ceil(height / STRIDE) * STRIDE;
  const wp = Math.ceil(width / STRIDE) * STRIDE;
  return hp * wp > WHOLE_IMAGE_PIXELS || Math.max(hp, wp) > MAX_WHOLE_SIDE;
}

/** [core start, core end, input start, input end] along one axis of `size` cells. */
export function spans(size, grid = GRID) {
  const out = [];
  for (let start = 0; start < size; start += grid.core) {
    const end = Math.min(start + grid.core, size);
    out.push([start, end, Math.max(0, start - grid.halo), Math.min(size, end + grid.halo)]);
  }
  return out;
}

/** Round half to even, as numpy.rint. */
export function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** float32 [3, y1-y0, x1-x0] in [0, 1] of RGBA pixels, rows and columns past the image repeating the last. */
export function modelInput(rgba, width, height, y0, y1, x0, x1) {
  const th = y1 - y0;
  const tw = x1 - x0;
  const plane = th * tw;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < th; y++) {
    const sy = Math.min(y0 + y, height - 1);
    for (let x = 0; x < tw; x++) {
      const src = (sy * width + Math.min(x0 + x, width - 1)) * 4;
      const dst = y * tw + x;
      out[dst] = rgba[src] / 255;
      out[plane + dst] = rgba[src + 1] / 255;
      out[2 * plane + dst] = rgba[src + 2] / 255;
    }
  }
  return out;
}

/**
 * Write decoder output (float32 [3, oh, ow]) into RGBA pixels: output pixel (oy + y, ox + x) goes to image
 * pixel (y0 + y, x0 + x) for the part of [y0, y1) x [x0, x1) inside the image. Float32 products, as numpy.
 * With `{stride: 3, top: 4080}` it writes sixteenths of a level into an RGB Uint16Array instead, as
 * compact.geometry.to_sixteenths does for the grid filter (degrid.js).
 */
export function writePixels(out, oh, ow, oy, ox, rgba, width, height, y0, y1, x0, x1, { stride = 4, top = 255 } = {}) {
  const plane = oh * ow;
  const ye = Math.min(y1, height);
  const xe = Math.min(x1, width);
  for (let y = y0; y < ye; y++) {
    for (let x = x0; x < xe; x++) {
      const src = (oy + y - y0) * ow + (ox + x - x0);
      const dst = (y * width + x) * stride;
      for (let c = 0; c < 3; c++) rgba[dst + c] = Math.min(top, Math.max(0, rint(Math.fround(out[c * plane + src] * top))));
    }
  }
}
