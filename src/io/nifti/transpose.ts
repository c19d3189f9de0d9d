/**
 * Cache-blocked conversion between NIfTI's file order (Fortran: x fastest) and ssl3d's C order over (X, Y, Z)
 * (z fastest). A naive loop writes with a stride of Y·Z floats and is ~3× slower on large volumes.
 */
const B = 32;

/** out[(x·Y + y)·Z + z] = f(src[x + X·(y + Y·z)]), where f applies optional scaling (`v·slope + inter`, float64). */
export function fortranToC(
  src: ArrayLike<number>,
  shape: readonly [number, number, number],
  out: { [i: number]: number },
  slope = 1,
  inter = 0,
): void {
  const [X, Y, Z] = shape;
  const XY = X * Y;
  const YZ = Y * Z;
  const scaled = slope !== 1 || inter !== 0;
  for (let y = 0; y < Y; y++) {
    for (let z0 = 0; z0 < Z; z0 += B) {
      const z1 = Math.min(z0 + B, Z);
      for (let x0 = 0; x0 < X; x0 += B) {
        const x1 = Math.min(x0 + B, X);
        for (let z = z0; z < z1; z++) {
          let s = x0 + X * y + XY * z;
          let d = (x0 * Y + y) * Z + z;
          if (!scaled) {
            for (let x = x0; x < x1; x++, s++, d += YZ) out[d] = src[s];
          } else {
            for (let x = x0; x < x1; x++, s++, d += YZ) {
              let v = src[s];
              if (slope !== 1) v = v * slope;
              if (inter !== 0) v = v + inter;
              out[d] = v;
            }
          }
        }
      }
    }
  }
}

/** out[x + X·(y + Y·z)] = src[(x·Y + y)·Z + z], with integer targets rounded and clamped to [lo, hi]. */
export function cToFortran(
  src: ArrayLike<number>,
  shape: readonly [number, number, number],
  out: { [i: number]: number },
  integer: { lo: number; hi: number } | null = null,
): void {
  const [X, Y, Z] = shape;
  const XY = X * Y;
  const YZ = Y * Z;
  for (let y = 0; y < Y; y++) {
    for (let z0 = 0; z0 < Z; z0 += B) {
      const z1 = Math.min(z0 + B, Z);
      for (let x0 = 0; x0 < X; x0 += B) {
        const x1 = Math.min(x0 + B, X);
        for (let z = z0; z < z1; z++) {
          let d = x0 + X * y + XY * z;
          let s = (x0 * Y + y) * Z + z;
          if (!integer) {
            for (let x = x0; x < x1; x++, d++, s += YZ) out[d] = src[s];
          } else {
            const { lo, hi } = integer;
            for (let x = x0; x < x1; x++, d++, s += YZ) out[d] = Math.min(hi, Math.max(lo, Math.round(src[s])));
          }
        }
      }
    }
  }
}
