/**
 * Built-in data for the demo and the CPU experiment: labeled and unlabeled phantoms, plus the shared real abdominal
 * CT (when present beside the checkout) added to the unlabeled pretraining list. Returns the config overrides that
 * point the pretraining and fine-tuning configs at it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { writePhantomSet } from '../synth';

export interface DemoDataOptions {
  outDir: string;
  /** Labeled phantoms (a `valFraction` share goes to validation). */
  labeled: number;
  unlabeled: number;
  seed?: number;
  valFraction?: number;
  /** Real CT to add to the pretraining list (image path), if any. */
  realCt?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface DemoData {
  dataRoot: string;
  pretrainJson: string;
  finetuneJson: string;
  numTrain: number;
  numVal: number;
  numUnlabeled: number;
  realCt: boolean;
  /** `--set` overrides for the two configs. */
  pretrainSet: string[];
  finetuneSet: string[];
}

export async function prepareDemoData(o: DemoDataOptions): Promise<DemoData> {
  const set = await writePhantomSet({
    outDir: o.outDir,
    n: o.labeled,
    unlabeled: o.unlabeled,
    seed: o.seed ?? 0,
    preset: 'small',
    valFraction: o.valFraction ?? 0.25,
    onProgress: o.onProgress ? (e) => o.onProgress!(e.done, e.total) : undefined,
  });
  const lists = JSON.parse(await readFile(set.unlabeledJson, 'utf8')) as { training: Array<{ image: string }>; validation: Array<{ image: string }> };
  const useCt = !!o.realCt && existsSync(o.realCt);
  if (useCt) lists.training.push({ image: path.resolve(o.realCt!) });
  const pretrainJson = path.join(o.outDir, 'pretrain_datalist.json');
  await writeFileAtomic(pretrainJson, JSON.stringify({ description: 'unlabeled phantoms' + (useCt ? ' + the shared real CT' : ''), ...lists }, null, 1) + '\n');
  const labeled = JSON.parse(await readFile(set.datasetJson, 'utf8')) as { training: unknown[]; validation: unknown[] };
  return {
    dataRoot: o.outDir,
    pretrainJson,
    finetuneJson: set.datasetJson,
    numTrain: labeled.training.length,
    numVal: labeled.validation.length,
    numUnlabeled: lists.training.length + lists.validation.length,
    realCt: useCt,
    pretrainSet: [`data.data_root=${o.outDir}`, `data.json_path=${pretrainJson}`],
    finetuneSet: [`data.data_root=${o.outDir}`, `data.json_path=${set.datasetJson}`],
  };
}
