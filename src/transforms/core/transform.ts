/**
 * The transform protocol, after MONAI: an array transform maps one value to another; a dictionary ("d") transform
 * applies the same array transform to selected keys of a data dictionary. Key handling (missing keys,
 * `allowMissingKeys`) is written once, in `MapTransform`.
 */
import { ArgumentError } from '../../errors';
import { Random } from '../../core/random';
import { isRandomizable } from './randomizable';

/** A data dictionary as MONAI's dict transforms see it: `{ image: Volume, label: Volume, ... }`. */
export type Data = Record<string, unknown>;

export interface Transform<I = unknown, O = unknown> {
  /** Apply to one input. */
  call(input: I): O | Promise<O>;
}

export interface MapTransformOptions {
  keys: string | string[];
  allowMissingKeys?: boolean;
}

export abstract class MapTransform implements Transform<Data, DataOrList> {
  readonly keys: string[];
  readonly allowMissingKeys: boolean;

  constructor(opts: MapTransformOptions) {
    this.keys = typeof opts.keys === 'string' ? [opts.keys] : [...opts.keys];
    if (this.keys.length === 0) throw new ArgumentError(`${new.target.name}: 'keys' must name at least one key`);
    this.allowMissingKeys = opts.allowMissingKeys ?? false;
  }

  /** The keys present in `d`, in order; throws naming the key when one is missing (unless allowed). */
  protected presentKeys(d: Data): string[] {
    const out: string[] = [];
    for (const k of this.keys) {
      if (k in d && d[k] !== undefined) out.push(k);
      else if (!this.allowMissingKeys) {
        throw new ArgumentError(
          `${this.constructor.name}: key '${k}' is missing from the data (present: ${Object.keys(d).join(', ') || 'none'})`,
        );
      }
    }
    return out;
  }

  abstract call(d: Data): DataOrList | Promise<DataOrList>;
}

/** Repeat a per-key option (`mode: 'bilinear'` or `mode: ['bilinear', 'nearest']`) to one value per key. */
export function perKey<T>(value: T | T[], keys: string[], name: string): T[] {
  if (!Array.isArray(value)) return keys.map(() => value);
  if (value.length !== keys.length) {
    throw new ArgumentError(`'${name}' has ${value.length} values but there are ${keys.length} keys`);
  }
  return value;
}

/** What a dict pipeline passes along: one data dict, or a list of them after a `*Samples` transform. */
export type DataOrList = Data | Data[];

/** Apply `t` to `d`, or to each item when `d` is a list (MONAI `map_items=True`), flattening lists of lists. */
export async function applyTransform(t: Transform<Data, DataOrList>, d: DataOrList): Promise<DataOrList> {
  if (!Array.isArray(d)) return t.call(d);
  const out: Data[] = [];
  for (const item of d) {
    const r = await t.call(item);
    if (Array.isArray(r)) out.push(...r);
    else out.push(r);
  }
  return out;
}

/**
 * Apply transforms in order (MONAI `Compose`). After a transform that returns several samples (e.g.
 * `RandSpatialCropSamplesd`) the following transforms run on each sample independently. `setRandomState(seed)`
 * seeds every random child from this Compose's own generator (MONAI's rule), so one seed reproduces the whole chain.
 */
export class Compose implements Transform<Data, DataOrList> {
  R: Random = new Random(0);
  constructor(readonly transforms: Transform<Data, DataOrList>[]) {}

  setRandomState(seed: number): this {
    this.R = new Random(seed >>> 0);
    for (const t of this.transforms) if (isRandomizable(t)) t.setRandomState(this.R.int(0, 4294967296));
    return this;
  }

  async call(d: Data): Promise<DataOrList> {
    let out: DataOrList = d;
    for (const t of this.transforms) out = await applyTransform(t, out);
    return out;
  }

  /** Like `call`, for chains known to return one dict (no `*Samples` transform). */
  async one(d: Data): Promise<Data> {
    const r = await this.call(d);
    if (Array.isArray(r)) throw new ArgumentError('Compose.one: the chain returned several samples');
    return r;
  }
}

/**
 * A dictionary transform around one random array transform `t`: it draws once with `t` (from the first key's shape)
 * and applies the same draw to every key; seeding it seeds `t` (MONAI's `Rand*d` pattern).
 */
export abstract class RandomMapTransform<T extends { setRandomState(seed: number): unknown }> extends MapTransform {
  abstract readonly t: T;
  setRandomState(seed: number): this {
    this.t.setRandomState(seed);
    return this;
  }
}
