// The decode-side grid filter of compact/degrid.py, in the same integer arithmetic (every value an
// integer below 2^53, every division exact or floored exactly), so the page and the Python reader give the
// same bytes. Read compact/degrid.py for what it does and why; the names here follow it.

export const PERIOD = 16;
export const SPAN = 3;
export const SMOOTH_QUARTERS = [1, 16];
export const FAINT_QUARTERS = [16, 64];
export const ROUGH_RADIUS = 16;
export const BAND = 128;
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
  const span = 2 * radius;
  if (axis === 0) {
    // running sums down each column, all columns of a row at once
    const out = plane(a.rows - span, a.cols);
    const cols = a.cols;
    const c = new Float64Array((a.rows + 1) * cols);
    for (let i = 0; i < a.rows; i++) {
      for (let j = 0; j < cols; j++) c[(i + 1) * cols + j] = c[i * cols + j] + a.v[i * cols + j];
    }
    for (let i = 0; i < out.rows; i++) {
      const hi = (i + span + 1) * cols;
      const lo = i * cols;
      for (let j = 0; j < cols; j++) {
        let s = c[hi + j] - c[lo + j];
        if (halfEnds) s += c[hi - cols + j] - c[lo + cols + j];
        out.v[i * cols + j] = s;
      }
    }
    return out;
  }
  const out = plane(a.rows, a.cols - span);
  const c = new Float64Array(a.cols + 1);
  for (let i = 0; i < a.rows; i++) {
    const row = i * a.cols;
    for (let j = 0; j < a.cols; j++) c[j + 1] = c[j] + a.v[row + j];
    const dst = i * out.cols;
    for (let j = 0; j < out.cols; j++) {
      let s = c[j + span + 1] - c[j];
      if (halfEnds) s += c[j + span] - c[j + 1];
      out.v[dst + j] = s;
    }
  }
  return out;
}

/** Sums of the SPAN same-phase values around each position along `axis`. */
function comb(a, axis) {
  const reach = PERIOD * HALF;
  const out = axis === 0 ? plane(a.rows - 2 * reach, a.cols) : plane(a.rows, a.cols - 2 * reach);
  const step = axis === 0 ? PERIOD * a.cols : PERIOD;
  for (let i = 0; i < out.rows; i++) {
    const src = axis === 0 ? (i + reach) * a.cols : i * a.cols + reach;
    const dst = i * out.cols;
    for (let j = 0; j < out.cols; j++) {
      let s = 0;
      for (let k = -HALF; k <= HALF; k++) s += a.v[src + j + k * step];
      out.v[dst + j] = s;
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
    // roughness of the cleaned picture (its grey, times 3), and the estimate's energy (sixteenths^2)
    const inner = trim(channels[0].d, REACH);
    const grey = plane(inner.rows, inner.cols);
    const power = plane(inner.rows, inner.cols);
    for (const { d, periodic: p } of channels) {
      const dd = trim(d, REACH);
      for (let i = 0; i < grey.v.length; i++) {
        const e = roundDiv(p.v[i], scale);
        grey.v[i] += dd.v[i] - e;
        power.v[i] += e * e;
      }
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
    const energy = windowSum(windowSum(power, ROUGH_RADIUS, 0, false), ROUGH_RADIUS, 1, false);
    const strength = 3 * (2 * ROUGH_RADIUS + 1) ** 2 * UNIT * UNIT;
    const [flo, fhi] = FAINT_QUARTERS;
    for (let ch = 0; ch < 3; ch++) {
      const { d, periodic: p } = channels[ch];
      const pp = trim(p, MARGIN - REACH);
      const dd = trim(d, MARGIN);
      for (let i = 0; i < y1 - y0; i++) {
        for (let j = 0; j < width; j++) {
          const r = rough.v[(i + 1) * rough.cols + j + 1];
          const smooth = Math.floor((WEIGHT_STEPS * (hi * count - 4 * r)) / ((hi - lo) * count));
          const en = energy.v[(i + 1) * energy.cols + j + 1];
          const faint = Math.floor((WEIGHT_STEPS * (fhi * strength - 4 * en)) / ((fhi - flo) * strength));
          const w = Math.min(WEIGHT_STEPS, Math.max(0, Math.min(smooth, faint)));
          const k = i * width + j;
          const v = roundDiv(steps * dd.v[k] - w * pp.v[k], steps * UNIT);
          rgba[((y0 + i) * width + j) * 4 + ch] = Math.min(255, Math.max(0, v));
        }
      }
    }
  }
}
