// Version 1 payload: the (C, h, w) code in C order, eight bits a byte, first bit in the MSB.

export function packedSize(count) {
  return Math.ceil(count / 8);
}

/** Packed bytes -> one byte (0 or 1) per bit. */
export function unpack(payload, count) {
  const bits = new Uint8Array(count);
  for (let i = 0; i < count; i++) bits[i] = (payload[i >> 3] >> (7 - (i & 7))) & 1;
  return bits;
}

/** One byte (0 or 1) per bit -> packed bytes, the last one padded with zeros. */
export function pack(bits) {
  const out = new Uint8Array(packedSize(bits.length));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 0x80 >> (i & 7);
  return out;
}
