/**
 * RandCropByLabelClasses(d) (MONAI semantics): class frequencies follow the ratios whatever the class sizes, every
 * centre lies on a voxel of the drawn class (then moved inside), absent classes are skipped, bad ratios are errors.
 */
import { describe, expect, it } from 'vitest';
import type { Volume } from '../../src/core/volume';
import { RandCropByLabelClasses, RandCropByLabelClassesd, mapClassesToIndices } from '../../src/transforms/croppad/random';
import { buildPipeline, pipelineParams } from '../../src/transforms/pipelines';
import type { Data } from '../../src/transforms/core/transform';

const I4 = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];
const S = [20, 18, 16];
/** Class 1 fills half the volume, class 2 is one 2³ cube, class 3 a single voxel; the rest is background 0. */
function label(): Volume {
  const [X, Y, Z] = S;
  const d = new Float32Array(X * Y * Z);
  for (let x = 0; x < X; x++)
    for (let y = 0; y < Y; y++)
      for (let z = 0; z < Z; z++) {
        const i = (x * Y + y) * Z + z;
        if (x >= 10) d[i] = 1;
        if (x >= 3 && x < 5 && y >= 4 && y < 6 && z >= 6 && z < 8) d[i] = 2;
        if (x === 15 && y === 9 && z === 8) d[i] = 3;
      }
  return { data: d, shape: [1, X, Y, Z], affine: I4 };
}
const at = (v: Volume, c: number[]) => v.data[(c[0] * v.shape[2] + c[1]) * v.shape[3] + c[2]];

describe('RandCropByLabelClasses', () => {
  it('draws each class as often as its ratio says, tiny classes included, centres on the drawn class', () => {
    const lab = label();
    const t = new RandCropByLabelClasses({ spatialSize: 4, numClasses: 4, numSamples: 4000 });
    t.setRandomState(3);
    const { centers, classes } = t.randomize(lab);
    const counts = [0, 0, 0, 0];
    classes.forEach((c) => counts[c]++);
    for (const n of counts) expect(Math.abs(n / 4000 - 0.25)).toBeLessThan(0.03);
    // with a 4³ crop no centre needs moving here, so each centre is a voxel of its class
    centers.forEach((c, i) => expect(at(lab, c)).toBe(classes[i]));
  });

  it('follows unequal ratios and skips classes absent from the label map (MONAI warns and drops them)', () => {
    const lab = label();
    const t = new RandCropByLabelClasses({ spatialSize: 4, numClasses: 6, ratios: [0, 1, 3, 0, 0, 10], numSamples: 2000 });
    t.setRandomState(5);
    const { classes } = t.randomize(lab);
    const n2 = classes.filter((c) => c === 2).length;
    expect(classes.every((c) => c === 1 || c === 2)).toBe(true); // class 5 is absent, 0 and 3 have ratio 0
    expect(Math.abs(n2 / 2000 - 0.75)).toBeLessThan(0.04);
  });

  it('same seed → same centres; the dict form crops image and label alike and records the class', () => {
    const lab = label();
    const img: Volume = { data: lab.data.map((v, i) => v * 100 + (i % 7)), shape: lab.shape, affine: I4 };
    const run = (seed: number) => {
      const t = new RandCropByLabelClassesd({ keys: ['image', 'label'], labelKey: 'label', spatialSize: [6, 6, 6], numClasses: 4, numSamples: 5 });
      t.setRandomState(seed);
      return t.call({ image: img, label: lab }) as Data[];
    };
    const a = run(1),
      b = run(1);
    expect(a.length).toBe(5);
    for (let i = 0; i < 5; i++) {
      const ai = a[i].image as Volume,
        al = a[i].label as Volume;
      expect(ai.shape).toEqual([1, 6, 6, 6]);
      expect(Array.from(ai.data)).toEqual(Array.from((b[i].image as Volume).data));
      for (let j = 0; j < ai.data.length; j++) expect(Math.floor(ai.data[j] / 100)).toBe(al.data[j]);
      const draw = (a[i].__draws as Array<Record<string, unknown>>)[0];
      expect(draw.transform).toBe('RandCropByLabelClassesd');
      expect(al.data).toContain(draw.class as number);
    }
  });

  it('indices per class; errors name the problem', () => {
    const idx = mapClassesToIndices(label(), 4, undefined, 0);
    const n1 = 10 * 18 * 16 - 1; // half the volume minus the class-3 voxel
    expect(idx.map((a) => a.length)).toEqual([20 * 18 * 16 - n1 - 8 - 1, n1, 8, 1]);
    expect(() => new RandCropByLabelClasses({ spatialSize: 4, numClasses: 3, ratios: [1, 1] })).toThrow(/ratios must be 3 numbers/);
    expect(() => new RandCropByLabelClasses({ spatialSize: 4, numClasses: 2, ratios: [0, 0] })).toThrow(/not all 0/);
    const only0: Volume = { data: new Float32Array(20 * 18 * 16), shape: [1, S[0], S[1], S[2]], affine: I4 };
    expect(() => new RandCropByLabelClasses({ spatialSize: 4, numClasses: 3, ratios: [0, 1, 1] }).randomize(only0)).toThrow(/no sampling location/);
    expect(() => new RandCropByLabelClasses({ spatialSize: 30, numClasses: 3 }).randomize(label())).toThrow(/smaller than the crop/);
  });

  it("the fine-tuning pipeline uses it when cropSampler is 'label_classes'", async () => {
    const lab = label();
    const p = buildPipeline('finetune', pipelineParams(8, { cropSampler: 'label_classes', numClasses: 4, samplesPerVolume: 3 }));
    p.random!.setRandomState(0);
    const out = (await p.random!.call({ image: { ...lab, data: lab.data.map((v) => v + 1) }, label: lab })) as Data[];
    expect(out.length).toBe(3);
    expect((out[0].__draws as Array<{ transform: string }>)[0].transform).toBe('RandCropByLabelClassesd');
  });
});
