/**
 * Randomness in transforms, after MONAI's `Randomizable`: every random transform owns a generator `R`;
 * `setRandomState(seed)` replaces it, and all draws happen in `randomize(...)`, separately from applying them.
 * `Compose.setRandomState` gives each child a seed drawn from its own generator, so one seed reproduces a pipeline.
 */
import { Random } from '../../core/random';

export interface RandomizableLike {
  setRandomState(seed: number): unknown;
}

export function isRandomizable(t: unknown): t is RandomizableLike {
  return typeof t === 'object' && t !== null && typeof (t as RandomizableLike).setRandomState === 'function';
}

export abstract class Randomizable implements RandomizableLike {
  R: Random = new Random(0);
  setRandomState(seed: number): this {
    this.R = new Random(seed >>> 0);
    return this;
  }
}

/** A record of the random choices a transform made for one sample (written by `ssl3d augment`). */
export type Draw = { transform: string } & Record<string, unknown>;

export const DRAWS_KEY = '__draws';

/** Append a draw record to a data dict (copy-on-write of the list). */
export function recordDraw(d: Record<string, unknown>, draw: Draw): void {
  const prev = (d[DRAWS_KEY] as Draw[] | undefined) ?? [];
  d[DRAWS_KEY] = [...prev, draw];
}
