#!/usr/bin/env node
// Benchmark of the training data pipelines (tutorial params, 96³ patches): samples/second of ssl3d vs MONAI with a
// cold and a warm cache, and the fraction of step time a training loop spends waiting for data (DataLoader with
// worker threads + prefetch, stand-in step of fixed cost). Prints Markdown tables.
//
// Usage: npm run build && node bench/pipeline.mjs [--cold 2] [--warm 5] [--step-per-sample 2] [--step busy|sleep]
//        [--workers 2] [--python python3] [--skip-monai] [--skip-loop]
// MONAI runs bench/monai_pipeline.py with OMP_WAIT_POLICY=PASSIVE. ssl3d times are single-threaded (numWorkers 0).
// Cold = no cache entry: load + deterministic prefix (+ disk cache write for ssl3d) + random part, i.e. MONAI's
// `Dataset`. Warm = prefix from the cache: ssl3d from the disk cache (read + sha1 check) or the memory LRU; MONAI
// `CacheDataset`-like (random part on a deepcopy of the cached prefix).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
const flag = (name) => args.includes(name);
const nCold = Number(opt('--cold', 2));
const nWarm = Number(opt('--warm', 5));
const stepPerSample = Number(opt('--step-per-sample', 2));
const stepKind = opt('--step', 'busy');
const workers = Number(opt('--workers', 2));
const python = opt('--python', 'python3');
const { SslDataset, DataLoader } = require(path.join(root, 'dist/data/index.js'));
const { pipelineParams } = require(path.join(root, 'dist/transforms/pipelines.js'));

const outDir = path.join(root, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
const big = path.join(outDir, 'ct_512x512x200.nii.gz');
const bigLabel = path.join(outDir, 'ct_512x512x200_label.nii.gz');
if (!existsSync(big)) {
  process.stderr.write('generating the 512×512×200 int16 volume...\n');
  execFileSync(python, [path.join(root, 'bench/monai_preprocess.py'), 'gen', big], { stdio: 'inherit' });
}
if (!existsSync(bigLabel)) {
  process.stderr.write('writing its label (voxels > 75 HU)...\n');
  execFileSync(python, [path.join(root, 'bench/monai_pipeline.py'), 'label', big, bigLabel], { stdio: 'inherit' });
}
const ctDir = path.resolve(root, '..', 'shared', 'data', 'ct-abdomen-small');
const datasets = [];
if (existsSync(path.join(ctDir, 'example_ct_sm.nii.gz'))) {
  datasets.push({ name: 'real CT (30 slices)', image: path.join(ctDir, 'example_ct_sm.nii.gz'), label: path.join(ctDir, 'example_seg.nii.gz'), pad: true });
} else process.stderr.write(`no real CT at ${ctDir}; skipping it\n`);
datasets.push({ name: '512×512×200 int16', image: big, label: bigLabel, pad: false });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-bench-pipeline-'));
const load0 = os.loadavg();
const log = (m) => process.stderr.write(m + '\n');

async function timeOurs(ds, pipeline, pad) {
  const params = pipelineParams(96, { finetunePadToPatch: pipeline === 'finetune' && pad });
  const item = pipeline === 'pretrain' ? { image: ds.image } : { image: ds.image, label: ds.label };
  const spec = { name: pipeline, params };
  const cold = [];
  let samples = 0;
  for (let r = 0; r < nCold; r++) {
    const cacheDir = path.join(tmpRoot, `cold-${pipeline}-${r}-${Date.now()}`);
    const d = new SslDataset([item], spec, { cacheDir, seed: r });
    const t = performance.now();
    const out = await d.get(0, r);
    cold.push((performance.now() - t) / 1000);
    samples = out.length;
  }
  const cacheDir = path.join(tmpRoot, `warm-${pipeline}`);
  await new SslDataset([item], spec, { cacheDir }).preprocessed(0);
  const warmDisk = [];
  for (let r = 0; r < nWarm; r++) {
    const d = new SslDataset([item], spec, { cacheDir, seed: r });
    const t = performance.now();
    await d.get(0, r);
    warmDisk.push((performance.now() - t) / 1000);
  }
  const mem = new SslDataset([item], spec, { cacheDir, memoryCacheMB: 4096 });
  await mem.preprocessed(0);
  const warmMem = [];
  for (let r = 0; r < nWarm; r++) {
    const t = performance.now();
    await mem.get(0, r);
    warmMem.push((performance.now() - t) / 1000);
  }
  return { samples, cold: median(cold), warmDisk: median(warmDisk), warmMem: median(warmMem) };
}

function timeMonai(ds, pipeline, pad) {
  if (flag('--skip-monai')) return null;
  try {
    const out = execFileSync(
      python,
      [path.join(root, 'bench/monai_pipeline.py'), 'time', ds.image, ds.label, pipeline, pipeline === 'finetune' && pad ? '1' : '0', String(nCold), String(nWarm)],
      { env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' }, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    const j = JSON.parse(out.trim().split('\n').pop());
    return { samples: j.samples, cold: median(j.cold_s), warm: median(j.warm_s), threads: j.threads };
  } catch (e) {
    log(`MONAI failed on ${ds.name} ${pipeline}: ${String(e.stderr ?? e.message).split('\n').slice(-3).join(' ')}`);
    return null;
  }
}

const rows = [];
for (const ds of datasets) {
  for (const pipeline of ['pretrain', 'finetune']) {
    log(`timing ${pipeline} on ${ds.name}...`);
    const ours = await timeOurs(ds, pipeline, ds.pad);
    const monai = timeMonai(ds, pipeline, ds.pad);
    rows.push({ ds: ds.name, pipeline, ours, monai, pad: ds.pad && pipeline === 'finetune' });
  }
}

// ---- training loop: fraction of the time spent waiting for data --------------------------------------------------
function step(seconds) {
  if (stepKind === 'sleep') return new Promise((r) => setTimeout(r, seconds * 1000));
  const end = performance.now() + seconds * 1000;
  let x = 0;
  while (performance.now() < end) for (let i = 0; i < 10000; i++) x += Math.sqrt(i);
  return Promise.resolve(x);
}

const loops = [];
if (!flag('--skip-loop')) {
  const nItems = 4;
  for (const [pipeline, batchSize] of [['pretrain', 2], ['finetune', 1]]) {
    log(`training loop: ${pipeline}...`);
    // Distinct items (an extra field makes a distinct cache key), so epoch 0 really preprocesses every volume.
    const items = Array.from({ length: nItems }, (_, i) => (pipeline === 'pretrain' ? { image: big, copy: i } : { image: big, label: bigLabel, copy: i }));
    const cacheDir = path.join(tmpRoot, `loop-${pipeline}`);
    const ds = new SslDataset(items, { name: pipeline, params: pipelineParams(96) }, { cacheDir, seed: 0 });
    const loader = new DataLoader(ds, { batchSize, shuffle: true, numWorkers: workers });
    for (let epoch = 0; epoch < 2; epoch++) {
      const t0 = performance.now();
      let firstWait = 0;
      let waitRest = 0;
      let steps = 0;
      let stepTime = 0;
      let w = loader.waitSeconds;
      for await (const b of loader.epoch(epoch)) {
        const waited = loader.waitSeconds - w;
        if (steps === 0) firstWait = waited;
        else waitRest += waited;
        const n = b.image.shape[0];
        const s0 = performance.now();
        await step(stepPerSample * n);
        stepTime += (performance.now() - s0) / 1000;
        steps++;
        w = loader.waitSeconds;
      }
      const total = (performance.now() - t0) / 1000;
      loops.push({ pipeline, epoch, batchSize, steps, total, firstWait, waitRest, waitAll: firstWait + waitRest, stepTime });
    }
    await loader.close();
  }
}
const load1 = os.loadavg();
rmSync(tmpRoot, { recursive: true, force: true });

const f = (x, d = 2) => (x == null ? 'n/a' : x.toFixed(d));
const sps = (n, s) => (s ? n / s : null);
console.log(
  `\n## Training data pipelines, tutorial params (96³), one volume, median of ${nCold} cold / ${nWarm} warm runs\n` +
    `${os.cpus().length} × ${os.cpus()[0].model}; node ${process.version}; ${new Date().toISOString().slice(0, 16)}Z; ` +
    `load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end\n`,
);
console.log('| volume | pipeline | samples/volume | ssl3d cold (s/s) | ssl3d warm, disk (s/s) | ssl3d warm, memory (s/s) | MONAI Dataset, cold (s/s) | MONAI CacheDataset, warm (s/s) | cold ssl3d/MONAI | warm (mem) ssl3d/MONAI |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const n = r.ours.samples;
  const oc = sps(n, r.ours.cold), od = sps(n, r.ours.warmDisk), om = sps(n, r.ours.warmMem);
  const mc = r.monai ? sps(r.monai.samples, r.monai.cold) : null, mw = r.monai ? sps(r.monai.samples, r.monai.warm) : null;
  console.log(
    `| ${r.ds} | ${r.pipeline}${r.pad ? ' (pad to 96³)' : ''} | ${n} | ${f(oc)} | ${f(od)} | ${f(om)} | ${f(mc)} | ${f(mw)} | ${mc ? f(oc / mc) + '×' : 'n/a'} | ${mw ? f(om / mw) + '×' : 'n/a'} |`,
  );
}
console.log('\n(s/s = samples per second; one sample = one 96³ crop with all its keys. Higher is better.)');
if (loops.length) {
  console.log(
    `\n## Training loop on 4 distinct 512×512×200 volumes: DataLoader(numWorkers ${workers}, shuffle, default prefetch), ` +
      `stand-in step = ${stepKind === 'busy' ? 'busy CPU loop on the main thread' : 'sleep'} of ${stepPerSample} s × samples in the batch\n`,
  );
  console.log('| pipeline | epoch (cache) | batches × samples | epoch time (s) | step time (s) | wait for 1st batch (s) | wait after 1st batch (s) | waiting / epoch time |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const l of loops) {
    const spb = l.pipeline === 'pretrain' ? l.batchSize * 2 : 4;
    console.log(
      `| ${l.pipeline} | ${l.epoch} (${l.epoch === 0 ? 'cold' : 'warm'}) | ${l.steps} × ${spb} | ${f(l.total, 1)} | ${f(l.stepTime, 1)} | ${f(l.firstWait)} | ${f(l.waitRest)} | ${f((100 * l.waitAll) / l.total, 1)} % (${f((100 * l.waitRest) / l.total, 1)} % after the 1st batch) |`,
    );
  }
}
