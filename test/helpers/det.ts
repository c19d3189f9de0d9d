/** Deterministic test tensors, bit-identical to scripts/reference/det.py (see there for the formula). */

export function lowbias32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

function offset(seed: number): number {
  return Number((BigInt(seed) * 0x9e3779b9n) % 2n ** 32n);
}

export function det(shape: readonly number[], seed: number, scale = 1): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const off = offset(seed);
  for (let i = 0; i < n; i++) {
    const h = lowbias32((i + off) % 4294967296);
    out[i] = (((h >>> 8) / 16777216) * 2 - 1) * scale;
  }
  return out;
}

export function sampleIndices(n: number, k: number, seed: number): number[] {
  const off = offset(seed);
  return Array.from({ length: k }, (_, i) => lowbias32((i + off) % 4294967296) % n);
}
