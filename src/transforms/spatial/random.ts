/** Random flips and 90° rotations with MONAI semantics (`RandFlip(d)`, `RandRotate90(d)`); affines follow. */
import type { Ornt } from '../../core/affine';
import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import { RandomMapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { Randomizable, recordDraw } from '../core/randomizable';
import { applyOrientation } from './functional';

/** Reverse the given spatial axes (0 = X). */
export function flip(v: Volume, axes: readonly number[]): Volume {
  const ornt: Ornt = [0, 1, 2].map((a) => [a, axes.includes(a) ? -1 : 1]);
  return applyOrientation(v, ornt);
}

/** `torch.rot90(x, k, dims=(a+1, b+1))` on a channel-first volume: k=1 gives out[i, j] = in[j, n_b − 1 − i]. */
export function rot90(v: Volume, k: number, axes: readonly [number, number] = [0, 1]): Volume {
  const kk = ((k % 4) + 4) % 4;
  if (kk === 0) return v;
  const [a, b] = axes;
  const ornt: Ornt = [0, 1, 2].map((ax) => [ax, 1]);
  if (kk === 2) {
    ornt[a] = [a, -1];
    ornt[b] = [b, -1];
  } else if (kk === 1) {
    ornt[a] = [b, 1]; // input a → output b
    ornt[b] = [a, -1]; // input b → output a, reversed
  } else {
    ornt[a] = [b, -1];
    ornt[b] = [a, 1];
  }
  return applyOrientation(v, ornt);
}

export interface RandFlipOptions {
  spatialAxis: number | number[];
  prob?: number;
}

/** MONAI `RandFlip`: with probability `prob`, reverse `spatialAxis`. */
export class RandFlip extends Randomizable {
  readonly axes: number[];
  readonly prob: number;
  constructor(o: RandFlipOptions) {
    super();
    this.axes = typeof o.spatialAxis === 'number' ? [o.spatialAxis] : [...o.spatialAxis];
    if (this.axes.some((a) => ![0, 1, 2].includes(a))) throw new ArgumentError(`spatialAxis must be in 0..2, got ${o.spatialAxis}`);
    this.prob = o.prob ?? 0.1;
  }
  randomize(): boolean {
    return this.R.random() < this.prob;
  }
  call(v: Volume): Volume {
    return this.randomize() ? flip(v, this.axes) : v;
  }
}

export class RandFlipd extends RandomMapTransform<RandFlip> {
  readonly t: RandFlip;
  constructor(opts: MapTransformOptions & RandFlipOptions) {
    super(opts);
    this.t = new RandFlip(opts);
  }
  call(d: Data): Data {
    const keys = this.presentKeys(d);
    const apply = this.t.randomize();
    const out: Data = { ...d };
    if (apply) for (const k of keys) out[k] = flip(d[k] as Volume, this.t.axes);
    recordDraw(out, { transform: 'RandFlipd', axes: this.t.axes, applied: apply });
    return out;
  }
}

export interface RandRotate90Options {
  prob?: number;
  maxK?: number;
  spatialAxes?: [number, number];
}

/** MONAI `RandRotate90`: with probability `prob`, rotate by k·90° in `spatialAxes`, k uniform in 1..maxK. */
export class RandRotate90 extends Randomizable {
  readonly prob: number;
  readonly maxK: number;
  readonly axes: [number, number];
  constructor(o: RandRotate90Options = {}) {
    super();
    this.prob = o.prob ?? 0.1;
    this.maxK = o.maxK ?? 3;
    this.axes = o.spatialAxes ?? [0, 1];
    if (this.maxK < 1) throw new ArgumentError(`maxK must be ≥ 1, got ${this.maxK}`);
  }
  randomize(): { apply: boolean; k: number } {
    const k = this.R.int(0, this.maxK) + 1; // MONAI draws k first, then the gate
    return { apply: this.R.random() < this.prob, k };
  }
  call(v: Volume): Volume {
    const { apply, k } = this.randomize();
    return apply ? rot90(v, k, this.axes) : v;
  }
}

export class RandRotate90d extends RandomMapTransform<RandRotate90> {
  readonly t: RandRotate90;
  constructor(opts: MapTransformOptions & RandRotate90Options) {
    super(opts);
    this.t = new RandRotate90(opts);
  }
  call(d: Data): Data {
    const keys = this.presentKeys(d);
    const { apply, k } = this.t.randomize();
    const out: Data = { ...d };
    if (apply) for (const key of keys) out[key] = rot90(d[key] as Volume, k, this.t.axes);
    recordDraw(out, { transform: 'RandRotate90d', applied: apply, k: apply ? k : 0 });
    return out;
  }
}
