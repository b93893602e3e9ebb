// The decode-side grid filter of compact/degrid.py, in the same integer arithmetic (every value an
// integer below 2^53, every division exact or floored exactly), so the page and the Python reader give the
// same bytes. Read compact/degrid.py for what it does and why; the names here follow it.

export const PERIOD = 16;
export const SPAN = 3;
export const SMOOTH_QUARTERS = [1, 16];
export const ROUGH_RADIUS = 16;
export const BAND = 256;
export const UNIT = 16;
const BOX = (PERIOD * SPAN) >> 1;
const MEAN = PERIOD >> 1;
const REACH = BOX + MEAN;
export const MARGIN = REACH + ROUGH_RADIUS + 1;
const WEIGHT_STEPS = 64;
const HALF = SPAN >> 1;

/** A rows x cols plane of integers held in doubles. */
const plane = (rows, cols) => ({ rows, cols, v: new Float64Array(rows * cols) });

/** Window sums along rows (axis 0) or columns (axis 1); `halfEnds`: end taps half, the whole doubled. */
function windowSum(a, radius, axis, halfEnds) {
  const n = axis === 0 ? a.rows : a.cols;
  const m = axis === 0 ? a.cols : a.rows;
  const out = axis === 0 ? plane(a.rows - 2 * radius, a.cols) : plane(a.rows, a.cols - 2 * radius);
  const at = axis === 0 ? (i, j) => i * a.cols + j : (i, j) => j * a.cols + i;
  const to = axis === 0 ? (i, j) => i * out.cols + j : (i, j) => j * out.cols + i;
  const c = new Float64Array(n + 1);
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < n; i++) c[i + 1] = c[i] + a.v[at(i, j)];
    for (let i = 0; i < n - 2 * radius; i++) {
      let s = c[i + 2 * radius + 1] - c[i];
      if (halfEnds) s += c[i + 2 * radius] - c[i + 1];
      out.v[to(i, j)] = s;
    }
  }
  return out;
}

/** Sums of the SPAN same-phase values around each position along `axis`. */
function comb(a, axis) {
  const reach = PERIOD * HALF;
  const out = axis === 0 ? plane(a.rows - 2 * reach, a.cols) : plane(a.rows, a.cols - 2 * reach);
  for (let i = 0; i < out.rows; i++) {
    for (let j = 0; j < out.cols; j++) {
      let s = 0;
      for (let k = -HALF; k <= HALF; k++) {
        s += axis === 0 ? a.v[(i + reach + k * PERIOD) * a.cols + j] : a.v[i * a.cols + j + reach + k * PERIOD];
      }
      out.v[i * out.cols + j] = s;
    }
  }
  return out;
}

/** a[cut:-cut, cut:-cut]. */
function trim(a, cut) {
  const out = plane(a.rows - 2 * cut, a.cols - 2 * cut);
  for (let i = 0; i < out.rows; i++) {
    out.v.set(a.v.subarray((i + cut) * a.cols + cut, (i + cut) * a.cols + cut + out.cols), i * out.cols);
  }
  return out;
}

const roundDiv = (a, b) => Math.floor((2 * a + b) / (2 * b));

/** The part of `d` that repeats every PERIOD px, times the scale, on d's interior less REACH. */
function periodic(d) {
  const weight = 4 * PERIOD * PERIOD;
  const combed = trim(comb(comb(d, 0), 1), BOX - PERIOD * HALF);
  const box = windowSum(windowSum(d, BOX, 0, true), BOX, 1, true);
  const grid = plane(box.rows, box.cols);
  for (let i = 0; i < grid.v.length; i++) grid.v[i] = weight * combed.v[i] - box.v[i];
  const mean = windowSum(windowSum(grid, MEAN, 0, true), MEAN, 1, true);
  const inner = trim(grid, MEAN);
  for (let i = 0; i < mean.v.length; i++) mean.v[i] = weight * inner.v[i] - mean.v[i];
  return mean;
}

/**
 * Filter `fine` (Uint16Array, height x width x 3 sixteenths of a level, as the decoder drew them) into the
 * RGB of `rgba` (alpha untouched): the grid removed from the smooth areas.
 */
export function degridInto(fine, width, height, rgba) {
  const scale = 4 * PERIOD * PERIOD * (2 * PERIOD * SPAN) ** 2;
  const steps = WEIGHT_STEPS * scale;
  const count = 2 * 9 * (2 * ROUGH_RADIUS + 1) ** 2 * UNIT * UNIT;
  const [lo, hi] = SMOOTH_QUARTERS;
  const clip = (v, n) => Math.min(n - 1, Math.max(0, v));
  for (let y0 = 0; y0 < height; y0 += BAND) {
    const y1 = Math.min(y0 + BAND, height);
    const rows = y1 - y0 + 2 * MARGIN;
    const cols = width + 2 * MARGIN;
    const channels = [];
    for (let ch = 0; ch < 3; ch++) {
      const d = plane(rows, cols);
      for (let i = 0; i < rows; i++) {
        const src = clip(y0 - MARGIN + i, height) * width;
        for (let j = 0; j < cols; j++) d.v[i * cols + j] = fine[(src + clip(j - MARGIN, width)) * 3 + ch];
      }
      channels.push({ d, periodic: periodic(d) });
    }
    // roughness of the cleaned picture (its grey, times 3)
    const inner = trim(channels[0].d, REACH);
    const grey = plane(inner.rows, inner.cols);
    for (const { d, periodic: p } of channels) {
      const dd = trim(d, REACH);
      for (let i = 0; i < grey.v.length; i++) grey.v[i] += dd.v[i] - roundDiv(p.v[i], scale);
    }
    const diffs = plane(grey.rows - 1, grey.cols - 1);
    for (let i = 0; i < diffs.rows; i++) {
      for (let j = 0; j < diffs.cols; j++) {
        const g = grey.v[i * grey.cols + j];
        const down = grey.v[(i + 1) * grey.cols + j] - g;
        const right = grey.v[i * grey.cols + j + 1] - g;
        diffs.v[i * diffs.cols + j] = down * down + right * right;
      }
    }
    const rough = windowSum(windowSum(diffs, ROUGH_RADIUS, 0, false), ROUGH_RADIUS, 1, false);
    for (let ch = 0; ch < 3; ch++) {
      const { d, periodic: p } = channels[ch];
      const pp = trim(p, MARGIN - REACH);
      const dd = trim(d, MARGIN);
      for (let i = 0; i < y1 - y0; i++) {
        for (let j = 0; j < width; j++) {
          const r = rough.v[(i + 1) * rough.cols + j + 1];
          const w = Math.min(WEIGHT_STEPS, Math.max(0, Math.floor((WEIGHT_STEPS * (hi * count - 4 * r)) / ((hi - lo) * count))));
          const k = i * width + j;
          const v = roundDiv(steps * dd.v[k] - w * pp.v[k], steps * UNIT);
          rgba[((y0 + i) * width + j) * 4 + ch] = Math.min(255, Math.max(0, v));
        }
      }
    }
  }
}
