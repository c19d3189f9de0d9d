/**
 * Random intensity transforms with MONAI semantics: `RandCoarseDropout(d)` (in-painting / out-painting holes, with
 * MONAI's hole-size "ratchet"), `RandCoarseShuffle(d)` (local pixel shuffling) and `RandShiftIntensity(d)`.
 */
import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import { RandomMapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { Randomizable, recordDraw } from '../core/randomizable';
import { randomPatchStart } from '../croppad/functional';

/** A box [start, start + size) in spatial voxel coordinates. */
export interface Box {
  start: number[];
  size: number[];
}

function triple(v: number | readonly number[], name: string): [number, number, number] {
  const t = typeof v === 'number' ? [v, v, v] : [...v];
  if (t.length !== 3 || t.some((x) => !Number.isInteger(x) || x < 1)) throw new ArgumentError(`${name} must be a positive integer or 3 of them, got ${JSON.stringify(v)}`);
  return [t[0], t[1], t[2]];
}

/** Call f(rowStart, rowEnd) for every z-row of `box` in channel `c` of a (C, X, Y, Z) volume, in C order. */
function forEachRow(shape: readonly number[], c: number, box: Box, f: (from: number, to: number) => void): void {
  const [, X, Y, Z] = shape;
  const [x0, y0, z0] = box.start;
  const [sx, sy, sz] = box.size;
  const cb = c * X * Y * Z;
  for (let x = x0; x < x0 + sx; x++) {
    for (let y = y0; y < y0 + sy; y++) {
      const row = cb + (x * Y + y) * Z + z0;
      f(row, row + sz);
    }
  }
}

interface CoarseOptions {
  holes: number;
  spatialSize: number | [number, number, number];
  maxHoles?: number;
  maxSpatialSize?: number | [number, number, number];
  prob?: number;
}

/** MONAI `RandCoarseTransform.randomize`: the apply gate, then the boxes (sizes ratchet: lower bound = previous size). */
abstract class RandCoarseTransform extends Randomizable {
  readonly holes: number;
  readonly spatialSize: [number, number, number];
  readonly maxHoles?: number;
  readonly maxSpatialSize?: [number, number, number];
  readonly prob: number;
  constructor(o: CoarseOptions) {
    super();
    if (!Number.isInteger(o.holes) || o.holes < 1) throw new ArgumentError(`holes must be a positive integer, got ${o.holes}`);
    this.holes = o.holes;
    this.spatialSize = triple(o.spatialSize, 'spatialSize');
    this.maxHoles = o.maxHoles;
    if (o.maxHoles !== undefined && o.maxHoles < o.holes) throw new ArgumentError(`maxHoles (${o.maxHoles}) must be ≥ holes (${o.holes})`);
    this.maxSpatialSize = o.maxSpatialSize === undefined ? undefined : triple(o.maxSpatialSize, 'maxSpatialSize');
    this.prob = o.prob ?? 0.1;
  }

  /** Draws: whether to apply, and the boxes. */
  randomize(shape: readonly number[]): { apply: boolean; boxes: Box[] } {
    const apply = this.R.random() < this.prob;
    if (!apply) return { apply, boxes: [] };
    let size: number[] = [...this.spatialSize];
    const n = this.maxHoles === undefined ? this.holes : this.R.int(this.holes, this.maxHoles + 1);
    const boxes: Box[] = [];
    for (let h = 0; h < n; h++) {
      if (this.maxSpatialSize) {
        const max = this.maxSpatialSize;
        size = size.map((lo, i) => this.R.int(lo, max[i] + 1)); // the "ratchet": lower bound is the previous size
      }
      const valid = shape.map((s, i) => Math.min(s, size[i]));
      boxes.push({ start: randomPatchStart(shape, valid, this.R), size: valid });
    }
    return { apply, boxes };
  }

  abstract applyBoxes(v: Volume, boxes: Box[]): Volume;

  call(v: Volume): Volume {
    const { apply, boxes } = this.randomize(v.shape.slice(1));
    return apply ? this.applyBoxes(v, boxes) : v;
  }
}

export interface RandCoarseDropoutOptions extends CoarseOptions {
  /** true: fill the holes (in-painting task); false: keep the holes and fill everything else (out-painting). */
  dropoutHoles?: boolean;
  /** A constant, or [lo, hi] for uniform noise; default: uniform between the image's min and max. */
  fillValue?: number | [number, number];
}

/** MONAI `RandCoarseDropout`. */
export class RandCoarseDropout extends RandCoarseTransform {
  readonly dropoutHoles: boolean;
  readonly fillValue?: number | [number, number];
  constructor(o: RandCoarseDropoutOptions) {
    super(o);
    this.dropoutHoles = o.dropoutHoles ?? true;
    this.fillValue = o.fillValue;
  }

  applyBoxes(v: Volume, boxes: Box[]): Volume {
    let fill = this.fillValue;
    if (fill === undefined) {
      let lo = Infinity,
        hi = -Infinity;
      for (let i = 0; i < v.data.length; i++) {
        const x = v.data[i];
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      fill = [lo, hi];
    }
    const C = v.shape[0];
    // uniform noise in [lo, hi) (MONAI's default fill), or a constant
    const put = (out: Float32Array, from: number, to: number) =>
      typeof fill === 'number' ? out.fill(fill, from, to) : this.R.fillUniform(out, from, to, fill![0], fill![1]);
    if (this.dropoutHoles) {
      // fill hole by hole, every channel of the hole (C order over (C, x, y, z)), as MONAI does
      const out = v.data.slice();
      for (const b of boxes) for (let c = 0; c < C; c++) forEachRow(v.shape, c, b, (from, to) => put(out, from, to));
      return { data: out, shape: [...v.shape] as Volume['shape'], affine: v.affine };
    }
    const out = new Float32Array(v.data.length);
    put(out, 0, out.length);
    for (const b of boxes) for (let c = 0; c < C; c++) forEachRow(v.shape, c, b, (from, to) => out.set(v.data.subarray(from, to), from));
    return { data: out, shape: [...v.shape] as Volume['shape'], affine: v.affine };
  }
}

/** MONAI `RandCoarseShuffle`: inside each box, each channel's voxels are randomly permuted. */
export class RandCoarseShuffle extends RandCoarseTransform {
  applyBoxes(v: Volume, boxes: Box[]): Volume {
    const out = v.data.slice();
    for (const b of boxes) {
      for (let c = 0; c < v.shape[0]; c++) {
        const idx: number[] = [];
        forEachRow(v.shape, c, b, (from, to) => {
          for (let i = from; i < to; i++) idx.push(i);
        });
        const vals = idx.map((i) => out[i]);
        this.R.shuffle(vals);
        idx.forEach((i, k) => (out[i] = vals[k]));
      }
    }
    return { data: out, shape: [...v.shape] as Volume['shape'], affine: v.affine };
  }
}

/** Shared dictionary form of the coarse transforms: one draw (from the first key's shape) applied to every key. */
abstract class RandCoarsed<T extends RandCoarseTransform> extends RandomMapTransform<T> {
  call(d: Data): Data {
    const keys = this.presentKeys(d);
    const { apply, boxes } = this.t.randomize((d[keys[0]] as Volume).shape.slice(1));
    const out: Data = { ...d };
    if (apply) for (const k of keys) out[k] = this.t.applyBoxes(d[k] as Volume, boxes);
    recordDraw(out, { transform: this.constructor.name, keys, applied: apply, boxes: boxes.map((b) => [...b.start, ...b.size]) });
    return out;
  }
}

export class RandCoarseDropoutd extends RandCoarsed<RandCoarseDropout> {
  readonly t: RandCoarseDropout;
  constructor(opts: MapTransformOptions & RandCoarseDropoutOptions) {
    super(opts);
    this.t = new RandCoarseDropout(opts);
  }
}

export class RandCoarseShuffled extends RandCoarsed<RandCoarseShuffle> {
  readonly t: RandCoarseShuffle;
  constructor(opts: MapTransformOptions & CoarseOptions) {
    super(opts);
    this.t = new RandCoarseShuffle(opts);
  }
}

export interface RandShiftIntensityOptions {
  /** Offset range: a number o means [−o, o]. */
  offsets: number | [number, number];
  prob?: number;
}

/** MONAI `RandShiftIntensity`: with probability `prob`, add one uniform offset to every voxel (no clipping). */
export class RandShiftIntensity extends Randomizable {
  readonly range: [number, number];
  readonly prob: number;
  constructor(o: RandShiftIntensityOptions) {
    super();
    this.range = typeof o.offsets === 'number' ? [-Math.abs(o.offsets), Math.abs(o.offsets)] : [Math.min(...o.offsets), Math.max(...o.offsets)];
    this.prob = o.prob ?? 0.1;
  }
  randomize(): { apply: boolean; offset: number } {
    const apply = this.R.random() < this.prob;
    return { apply, offset: apply ? this.R.uniform(this.range[0], this.range[1]) : 0 };
  }
  shift(v: Volume, offset: number): Volume {
    const out = new Float32Array(v.data.length);
    for (let i = 0; i < out.length; i++) out[i] = v.data[i] + offset;
    return { data: out, shape: [...v.shape], affine: v.affine };
  }
  call(v: Volume): Volume {
    const { apply, offset } = this.randomize();
    return apply ? this.shift(v, offset) : v;
  }
}

export class RandShiftIntensityd extends RandomMapTransform<RandShiftIntensity> {
  readonly t: RandShiftIntensity;
  constructor(opts: MapTransformOptions & RandShiftIntensityOptions) {
    super(opts);
    this.t = new RandShiftIntensity(opts);
  }
  call(d: Data): Data {
    const keys = this.presentKeys(d);
    const { apply, offset } = this.t.randomize();
    const out: Data = { ...d };
    if (apply) for (const k of keys) out[k] = this.t.shift(d[k] as Volume, offset);
    recordDraw(out, { transform: 'RandShiftIntensityd', applied: apply, offset });
    return out;
  }
}
