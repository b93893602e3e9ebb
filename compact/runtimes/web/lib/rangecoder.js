// The range coder of docs/FORMAT.md ("Range coder, exactly"): 32-bit words, 64-bit state, 24-bit
// probabilities. BigInt keeps the 64-bit arithmetic exact; a Kodak image is ~25k bits, so speed is no issue.

const PRECISION = 24n;
const TOTAL = 1 << 24;
const MASK64 = (1n << 64n) - 1n;
const MIN_RANGE = 1n << 32n;
const WORD_MASK = 0xffffffffn;

export const CORRUPT = "Tried to decode from compressed data that is invalid for the employed entropy model.";

export class CorruptPayload extends Error {}

/** 24-bit weight of bit 0 for a table entry q = P(bit = 1) * 2^16 (1..65535); exact in doubles. */
export function zeroWeight(q) {
  return Math.floor(((65536 - q) / 65536) * (TOTAL - 2)) + 1;
}

export class RangeDecoder {
  /** @param {Uint32Array} words the payload as 32-bit words (already converted from big-endian) */
  constructor(words) {
    this.words = words;
    this.pos = 0;
    let point = 0n;
    for (let i = 0; i < 2; i++) point = (point << 32n) | BigInt(this.pos < words.length ? words[this.pos++] : 0);
    this.point = point;
    this.lower = 0n;
    this.range = MASK64;
  }

  /** Decode one bit coded with P(1) = q / 2^16. */
  decode(q) {
    const m = BigInt(zeroWeight(q));
    const scale = this.range >> PRECISION;
    const quantile = ((this.point - this.lower) & MASK64) / scale;
    if (quantile >= 1n << PRECISION) throw new CorruptPayload(CORRUPT);
    const bit = quantile >= m ? 1 : 0;
    if (bit) {
      this.lower = (this.lower + scale * m) & MASK64;
      this.range = scale * (BigInt(TOTAL) - m);
    } else {
      this.range = scale * m;
    }
    if (this.range < MIN_RANGE) {
      this.lower = (this.lower << 32n) & MASK64;
      this.range <<= 32n;
      const next = this.pos < this.words.length ? this.words[this.pos++] : 0;
      this.point = ((this.point << 32n) & MASK64) | BigInt(next);
    }
    return bit;
  }
}

export class RangeEncoder {
  constructor() {
    this.out = [];
    this.lower = 0n;
    this.range = MASK64;
    this.held = 0; // words held back until a possible carry is settled
    this.first = 0n; // the first held word
  }

  release(carry) {
    this.out.push(Number((this.first + (carry ? 1n : 0n)) & WORD_MASK));
    for (let i = 1; i < this.held; i++) this.out.push(carry ? 0 : 0xffffffff);
    this.held = 0;
  }

  /** Encode one bit with P(1) = q / 2^16. */
  encode(bit, q) {
    const m = BigInt(zeroWeight(q));
    const scale = this.range >> PRECISION;
    const [left, size] = bit ? [m, BigInt(TOTAL) - m] : [0n, m];
    this.range = scale * size;
    const lower = (this.lower + scale * left) & MASK64;
    if (this.held && lower + this.range <= MASK64) this.release(lower < this.lower);
    this.lower = lower;
    if (this.range < MIN_RANGE) {
      this.range <<= 32n;
      const word = this.lower >> 32n;
      this.lower = (this.lower << 32n) & MASK64;
      if (this.held) this.held += 1;
      else if (this.lower + this.range <= MASK64) this.out.push(Number(word));
      else [this.held, this.first] = [1, word];
    }
  }

  /** Flush and return the words (the encoder is spent afterwards). */
  finish() {
    if (this.range === MASK64) return new Uint32Array(0);
    const point = (this.lower + MIN_RANGE - 1n) & MASK64;
    if (this.held) this.release(point < this.lower);
    const pointWord = point >> 32n;
    this.out.push(Number(pointWord));
    if (((this.lower + this.range) & MASK64) >> 32n === pointWord) this.out.push(0);
    return Uint32Array.from(this.out);
  }
}
