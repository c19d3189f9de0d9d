/**
 * The transform protocol, after MONAI: an array transform maps one value to another; a dictionary ("d") transform
 * applies the same array transform to selected keys of a data dictionary. Key handling (missing keys,
 * `allowMissingKeys`) is written once, in `MapTransform`.
 */
import { ArgumentError } from '../../errors';

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

export abstract class MapTransform implements Transform<Data, Data> {
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

  abstract call(d: Data): Data | Promise<Data>;
}

/** Repeat a per-key option (`mode: 'bilinear'` or `mode: ['bilinear', 'nearest']`) to one value per key. */
export function perKey<T>(value: T | T[], keys: string[], name: string): T[] {
  if (!Array.isArray(value)) return keys.map(() => value);
  if (value.length !== keys.length) {
    throw new ArgumentError(`'${name}' has ${value.length} values but there are ${keys.length} keys`);
  }
  return value;
}

/** Apply transforms in order (MONAI `Compose`, without list mapping for now). */
export class Compose implements Transform<Data, Data> {
  constructor(readonly transforms: Transform<Data, Data>[]) {}

  async call(d: Data): Promise<Data> {
    let out = d;
    for (const t of this.transforms) out = await t.call(out);
    return out;
  }
}
