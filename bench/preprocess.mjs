#!/usr/bin/env node
// Benchmark: load + deterministic preprocessing of a 512×512×200 int16 CT, ssl3d vs MONAI, same machine, same run.
// Usage: npm run build && node bench/preprocess.mjs [--repeats 3] [--python python3]
// MONAI runs with OMP_WAIT_POLICY=PASSIVE (its best setting on 2 cores). Prints a Markdown table.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { helpIfAsked } from './common.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
helpIfAsked(import.meta.url, args);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const repeats = Number(opt('--repeats', 3));
const python = opt('--python', 'python3');
const { preprocessPreset } = require(path.join(root, 'dist/transforms/presets.js'));

const outDir = path.join(root, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, 'ct_512x512x200.nii.gz');
if (!existsSync(file)) {
  process.stderr.write('generating the 512×512×200 int16 volume...\n');
  execFileSync(python, [path.join(root, 'bench/monai_preprocess.py'), 'gen', file], { stdio: 'inherit' });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const preset of ['pretrain', 'finetune-val']) {
  const times = [];
  let shape;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    const out = await preprocessPreset(preset).call({ image: file });
    times.push((performance.now() - t) / 1000);
    shape = out.image.shape.slice(1);
  }
  const monai = JSON.parse(
    execFileSync(python, [path.join(root, 'bench/monai_preprocess.py'), 'time', file, preset, String(repeats)], {
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    }).toString().trim().split('\n').pop(),
  );
  rows.push({ preset, ours: median(times), monai: monai.median_s, shape: shape.join('×'), monaiShape: monai.shape.join('×') });
}
console.log(`\nload + preprocess, 512×512×200 int16 (.nii.gz), median of ${repeats}; ${os.cpus().length} × ${os.cpus()[0].model}; ${new Date().toISOString().slice(0, 10)}`);
console.log('| preset | output | ssl3d (s) | MONAI (s) | ssl3d / MONAI |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.preset} | ${r.shape}${r.shape === r.monaiShape ? '' : ` (MONAI ${r.monaiShape})`} | ${r.ours.toFixed(2)} | ${r.monai.toFixed(2)} | ${(r.ours / r.monai).toFixed(2)}× |`);
