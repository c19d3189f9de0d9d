/**
 * One copy routine for every data-movement kernel (slice, split, unpack, concat, pack, transpose): copy an
 * n-dimensional box of `shape` from `src` (element strides `srcStrides`, starting at `srcOffset`) to `dst` (strides
 * `dstStrides`, starting at `dstOffset`).
 *
 * Before copying, size-1 dimensions are dropped and neighbouring dimensions that are contiguous in both arrays are
 * merged, so a channel slice of a [2, 32, 32, 32, 48] tensor becomes a 2-D copy of 65,536 rows of 16, and a
 * transpose that moves whole blocks copies blocks. The two innermost dimensions run as plain loops (rows of ≥ 32
 * contiguous elements use `TypedArray.set`); the rest is an odometer. Pure JavaScript on typed arrays: it works on
 * any array, including views of the wasm heap (./wasm_kernels.ts).
 */
export type NumericArray = Float32Array | Int32Array | Uint8Array;

/** Row-major strides of a shape. */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Drop size-1 dims and merge dims contiguous in both layouts; returns [shape, srcStrides, dstStrides]. */
export function simplifyBox(shape: readonly number[], srcStrides: readonly number[], dstStrides: readonly number[]): [number[], number[], number[]] {
  const sh: number[] = [];
  const ss: number[] = [];
  const ds: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const k = sh.length - 1;
    if (k >= 0 && ss[k] === srcStrides[i] * shape[i] && ds[k] === dstStrides[i] * shape[i]) {
      sh[k] *= shape[i];
      ss[k] = srcStrides[i];
      ds[k] = dstStrides[i];
    } else {
      sh.push(shape[i]);
      ss.push(srcStrides[i]);
      ds.push(dstStrides[i]);
    }
  }
  return [sh, ss, ds];
}

const SET_MIN = 32;
/** Tile edge for transpose-like copies. */
const T = 32;

export function stridedCopy(
  src: NumericArray,
  srcOffset: number,
  srcStrides: readonly number[],
  dst: NumericArray,
  dstOffset: number,
  dstStrides: readonly number[],
  shape: readonly number[],
): void {
  for (const n of shape) if (n === 0) return;
  const [sh, ss, ds] = simplifyBox(shape, srcStrides, dstStrides);
  const r = sh.length;
  if (r === 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  const n1 = sh[r - 1],
    s1 = ss[r - 1],
    d1 = ds[r - 1];
  const n2 = r >= 2 ? sh[r - 2] : 1,
    s2 = r >= 2 ? ss[r - 2] : 0,
    d2 = r >= 2 ? ds[r - 2] : 0;
  const contiguousRows = s1 === 1 && d1 === 1;
  const useSet = contiguousRows && n1 >= SET_MIN;
  const tiled = !contiguousRows && n1 >= T && n2 >= T && Math.abs(s2) < Math.abs(s1);
  const outer = r - 2;
  const idx = new Array<number>(Math.max(outer, 0)).fill(0);
  let so = srcOffset,
    dOff = dstOffset;
  for (;;) {
    // innermost two dims
    let sj = so,
      dj = dOff;
    if (tiled) {
      // transpose-like: rows of dst read src with a large stride; blocks of T×T keep the touched lines in cache
      for (let j0 = 0; j0 < n2; j0 += T) {
        const j1 = Math.min(j0 + T, n2);
        for (let k0 = 0; k0 < n1; k0 += T) {
          const k1 = Math.min(k0 + T, n1);
          for (let j = j0; j < j1; j++) {
            let sk = so + j * s2 + k0 * s1,
              dk = dOff + j * d2 + k0 * d1;
            if (d1 === 1) for (let k = k0; k < k1; k++, sk += s1) dst[dk++] = src[sk];
            else for (let k = k0; k < k1; k++, sk += s1, dk += d1) dst[dk] = src[sk];
          }
        }
      }
    } else for (let j = 0; j < n2; j++, sj += s2, dj += d2) {
      if (useSet) {
        dst.set(src.subarray(sj, sj + n1), dj);
      } else if (contiguousRows) {
        for (let k = 0; k < n1; k++) dst[dj + k] = src[sj + k];
      } else {
        for (let k = 0, sk = sj, dk = dj; k < n1; k++, sk += s1, dk += d1) dst[dk] = src[sk];
      }
    }
    // odometer over the outer dims
    let a = outer - 1;
    while (a >= 0) {
      idx[a]++;
      so += ss[a];
      dOff += ds[a];
      if (idx[a] < sh[a]) break;
      so -= ss[a] * sh[a];
      dOff -= ds[a] * sh[a];
      idx[a] = 0;
      a--;
    }
    if (a < 0) return;
  }
}
