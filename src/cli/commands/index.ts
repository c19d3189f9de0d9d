import type { Command } from 'commander';
import { register as info } from './info';
import { register as synth } from './synth';
import { register as datalist } from './datalist';
import { register as preprocess } from './preprocess';
import { register as demo } from './demo';
import { register as preview } from './preview';
import { register as augment } from './augment';
import { register as infer } from './infer';
import { register as convert } from './convert';
import { registerFinetune, registerPretrain } from './train';
import { register as report } from './report';
import { register as results } from './results';
import { register as segment } from './segment';
import { register as evaluate } from './evaluate';

const pretrain = registerPretrain;
const finetune = registerFinetune;

/** Every CLI command, in the order `ssl3d --help` lists them. */
export const COMMANDS: Array<(program: Command) => void> = [demo, pretrain, finetune, evaluate, results, segment, report, info, synth, datalist, preprocess, preview, augment, infer, convert];
