/**
 * Window-level importance (blending) maps, as MONAI 1.6.1's `monai.data.utils.compute_importance_map`.
 *
 * - `constant`: all ones.
 * - `gaussian`: per axis i a 1-D gaussian `exp(-t² / (2σᵢ²))` on `t = -(rᵢ-1)/2 … (rᵢ-1)/2` (centred on the middle of
 *   the window; for even sizes the centre lies between two voxels, so the peak is below 1: MONAI does **not**
 *   normalise by the max), with `σᵢ = sigma_scaleᵢ · rᵢ`; the map is the outer product over the axes.
 * - Finally MONAI clamps: `clamp(map, min = max(min(map), 1e-3))`, i.e. every weight is at least 1e-3 (as float32).
 *
 * Computed in float32 step by step (as torch does) and returned C-ordered over (rx, ry, rz), last axis fastest.
 */
export type BlendMode = 'constant' | 'gaussian';

export type Triple = [number, number, number];

const f32 = Math.fround;

export function importanceMap(roi: readonly number[], mode: BlendMode = 'constant', sigmaScale: number | readonly number[] = 0.125): Float32Array {
  if (roi.length === 0 || roi.some((r) => !Number.isInteger(r) || r < 1)) {
    throw new RangeError(`importanceMap: roi must be positive integers, got [${roi.join(', ')}]`);
  }
  const n = roi.reduce((a, b) => a * b, 1);
  let map: Float32Array;
  if (mode === 'constant') {
    map = new Float32Array(n).fill(1);
  } else if (mode === 'gaussian') {
    const scales = typeof sigmaScale === 'number' ? roi.map(() => sigmaScale) : [...sigmaScale];
    if (scales.length !== roi.length) throw new RangeError(`importanceMap: sigmaScale needs ${roi.length} values`);
    const axes = roi.map((r, i) => gaussian1d(r, r * scales[i]));
    map = axes[0];
    for (let d = 1; d < roi.length; d++) {
      const g = axes[d];
      const next = new Float32Array(map.length * g.length);
      for (let i = 0; i < map.length; i++) {
        const m = map[i];
        for (let j = 0; j < g.length; j++) next[i * g.length + j] = m * g[j];
      }
      map = next;
    }
  } else {
    throw new RangeError(`importanceMap: unsupported mode '${String(mode)}' (constant | gaussian)`);
  }
  let min = Infinity;
  for (let i = 0; i < map.length; i++) if (map[i] < min) min = map[i];
  const lo = f32(Math.max(min, 1e-3));
  for (let i = 0; i < map.length; i++) if (!(map[i] >= lo)) map[i] = lo;
  return map;
}

/** torch: x = arange(-(r-1)/2, (r-1)/2 + 1) (float32); exp(x**2 / (-2 σ²)) in float32. */
function gaussian1d(r: number, sigma: number): Float32Array {
  const out = new Float32Array(r);
  const denom = f32(-2 * sigma ** 2);
  for (let i = 0; i < r; i++) {
    const t = f32(-(r - 1) / 2 + i);
    out[i] = Math.exp(f32(f32(t * t) / denom));
  }
  return out;
}
