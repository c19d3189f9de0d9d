import { ArgumentError } from '../../errors';
import { Random } from '../../core/random';
import { applyTransform, type Data, type DataOrList, type Transform } from './transform';
import { isRandomizable, recordDraw } from './randomizable';

/** MONAI `OneOf(transforms, weights)`: apply one of the transforms, chosen with the given weights (default equal). */
export class OneOf implements Transform<Data, DataOrList> {
  R: Random = new Random(0);
  readonly weights: number[];
  constructor(
    readonly transforms: Transform<Data, DataOrList>[],
    weights?: number[],
  ) {
    const w = weights ?? transforms.map(() => 1);
    if (w.length !== transforms.length || w.some((x) => x < 0) || w.reduce((a, b) => a + b, 0) <= 0) {
      throw new ArgumentError(`OneOf: need one non-negative weight per transform (not all 0), got ${JSON.stringify(weights)}`);
    }
    const sum = w.reduce((a, b) => a + b, 0);
    this.weights = w.map((x) => x / sum);
  }
  setRandomState(seed: number): this {
    this.R = new Random(seed >>> 0);
    for (const t of this.transforms) if (isRandomizable(t)) t.setRandomState(this.R.int(0, 4294967296));
    return this;
  }
  randomize(): number {
    const u = this.R.random();
    let acc = 0;
    for (let i = 0; i < this.weights.length; i++) {
      acc += this.weights[i];
      if (u < acc) return i;
    }
    return this.weights.length - 1;
  }
  async call(d: Data): Promise<DataOrList> {
    const index = this.randomize();
    const marked = { ...d };
    recordDraw(marked, { transform: 'OneOf', index });
    return applyTransform(this.transforms[index], marked);
  }
}
