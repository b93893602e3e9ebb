// The colour correction of docs/FORMAT.md ("Colour block"), as compact/colour.py: the writer fits a 3x3
// matrix D (int8, 1/128) and an offset o (int16, 1/128 level) that bring the decoded pixels closest to the
// original's; every reader applies it in integer arithmetic, so all platforms get the same pixels.

import { COLOUR_BLOCK_SIZE } from "./container.js";
import { rint } from "./image.js";

const SCALE = 128;
const RIDGE = 1e-4;

/** The block's 15 bytes -> {matrix: 9 ints (row = output channel), offset: 3 ints}. */
export function parseColour(block) {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const matrix = Array.from({ length: 9 }, (_, i) => view.getInt8(i));
  const offset = [0, 1, 2].map((c) => view.getInt16(9 + 2 * c));
  return { matrix, offset };
}

/** Correct RGBA pixels in place (alpha untouched): clip((128 x[c] + sum_j D[c][j] (x[j] - 128) + o[c] + 64) >> 7). */
export function applyColour(rgba, { matrix: d, offset: o }) {
  for (let i = 0; i < rgba.length; i += 4) {
    const x0 = rgba[i] - 128;
    const x1 = rgba[i + 1] - 128;
    const x2 = rgba[i + 2] - 128;
    for (let c = 0; c < 3; c++) {
      const acc = SCALE * rgba[i + c] + d[3 * c] * x0 + d[3 * c + 1] * x1 + d[3 * c + 2] * x2 + o[c] + SCALE / 2;
      rgba[i + c] = Math.min(255, Math.max(0, acc >> 7));
    }
  }
}

/** Solve the 4x4 system `a` for the 3 columns of `b` (Gaussian elimination, partial pivoting). */
function solve(a, b) {
  const n = 4;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let r = k + 1; r < n; r++) if (Math.abs(a[r][k]) > Math.abs(a[p][k])) p = r;
    [a[k], a[p]] = [a[p], a[k]];
    [b[k], b[p]] = [b[p], b[k]];
    for (let r = k + 1; r < n; r++) {
      const f = a[r][k] / a[k][k];
      for (let c = k; c < n; c++) a[r][c] -= f * a[k][c];
      for (let c = 0; c < 3; c++) b[r][c] -= f * b[k][c];
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    for (let c = 0; c < 3; c++) {
      let s = b[k][c];
      for (let j = k + 1; j < n; j++) s -= a[k][j] * b[j][c];
      b[k][c] = s / a[k][k];
    }
  }
  return b;
}

function squaredError(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) s += (a[i + c] - b[i + c]) ** 2;
  }
  return s;
}

/**
 * The colour block (15 bytes) that brings `decoded` closest to `original` (both RGBA), or null when no
 * correction lowers the squared error: compact/colour.py's fit, the same sums in float64.
 */
export function fitColour(decoded, original) {
  const pixels = decoded.length / 4;
  const gram = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
  const moment = Array.from({ length: 4 }, () => [0, 0, 0]);
  const f = [0, 0, 0, 1];
  for (let i = 0; i < decoded.length; i += 4) {
    for (let c = 0; c < 3; c++) f[c] = (decoded[i + c] - 128) / SCALE;
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) gram[a][b] += f[a] * f[b];
      for (let c = 0; c < 3; c++) moment[a][c] += f[a] * (original[i + c] - decoded[i + c]);
    }
  }
  const ridge = (RIDGE * (gram[0][0] + gram[1][1] + gram[2][2])) / 3 + 1e-9 * pixels;
  for (let k = 0; k < 3; k++) gram[k][k] += ridge;
  const solution = solve(gram, moment); // rows 0-2: D transposed; row 3: o / SCALE
  const matrix = [];
  for (let c = 0; c < 3; c++) {
    for (let j = 0; j < 3; j++) matrix.push(Math.min(127, Math.max(-128, rint(solution[j][c]))));
  }
  // with the matrix rounded, the best offset is the mean of what is left (integers: the sums are exact)
  const left = [0, 0, 0];
  for (let i = 0; i < decoded.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      let s = SCALE * (original[i + c] - decoded[i + c]);
      for (let j = 0; j < 3; j++) s -= matrix[3 * c + j] * (decoded[i + j] - 128);
      left[c] += s;
    }
  }
  const offset = left.map((v) => Math.min(32767, Math.max(-32768, rint(v / pixels))));
  const corrected = Uint8ClampedArray.from(decoded);
  applyColour(corrected, { matrix, offset });
  if (!(squaredError(corrected, original) < squaredError(decoded, original))) return null;
  const block = new Uint8Array(COLOUR_BLOCK_SIZE);
  const view = new DataView(block.buffer);
  matrix.forEach((v, i) => view.setInt8(i, v));
  offset.forEach((v, c) => view.setInt16(9 + 2 * c, v));
  return block;
}
