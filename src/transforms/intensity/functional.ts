import type { Volume } from '../../core/volume';

/**
 * MONAI `ScaleIntensityRange`: y = (x − a_min)/(a_max − a_min)·(b_max − b_min) + b_min, then optionally clipped to
 * [b_min, b_max]. Done in float32 steps like the torch implementation.
 */
export function scaleIntensityRange(v: Volume, aMin: number, aMax: number, bMin: number, bMax: number, clip: boolean): Volume {
  const f = Math.fround;
  const out = new Float32Array(v.data.length);
  const src = v.data;
  if (aMax - aMin === 0) {
    // MONAI warns and only shifts
    for (let i = 0; i < src.length; i++) out[i] = f(f(src[i] - aMin) + bMin);
    return { data: out, shape: [...v.shape], affine: v.affine.map((r) => r.slice()) };
  }
  const a0 = f(aMin),
    range = f(aMax - aMin),
    scale = f(bMax - bMin),
    b0 = f(bMin);
  const lo = Math.min(bMin, bMax),
    hi = Math.max(bMin, bMax);
  for (let i = 0; i < src.length; i++) {
    let y = f(f(src[i] - a0) / range);
    y = f(f(y * scale) + b0);
    if (clip) y = y < lo ? lo : y > hi ? hi : y;
    out[i] = y;
  }
  return { data: out, shape: [...v.shape], affine: v.affine.map((r) => r.slice()) };
}
