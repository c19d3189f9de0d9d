#!/usr/bin/env node
// Benchmark of sliding-window inference, ssl3d vs MONAI, side by side in one run: a UNETR over one CT-sized volume
// as the tutorial validates (spec 4.6: roi = the network's img_size, sw_batch_size 4, overlap 0.25, mode
// "constant"; eval, no gradients). Each (config, backend) runs in its own process (peak RSS per measurement).
//
// Usage: npm run build && node bench/inference.mjs [--configs tiny32,tiny48,full] [--backends native,wasm]
//        [--shape 224,176,48] [--sw-batch 4] [--overlap 0.25] [--repeats 2] [--warmup 1] [--full-wasm]
//        [--json out.json] [--python python3] [--skip-monai] [--timeout-s 1800]
//
// Volume: random uniform, default 224×176×48 (the size of an abdominal CT after the tutorial's fine-tuning
// validation transforms: 1.5×1.5×2 mm spacing, foreground crop; the shared ct-abdomen-small becomes about that).
// Windows: full (roi 96³) 3×3×1 = 9, tiny48 (roi 48³) 6×5×1 = 30, tiny32 (roi 32³) 9×7×2 = 126.
// Configs as bench/models.mjs (tiny = img 32³/48³, hidden 96, feature 16; full = the tutorial's UNETR).
// Backends: native (if installed) + wasm for tiny configs, native only for full (add wasm with --full-wasm).
// Time: wall-clock seconds per volume, median of --repeats after --warmup windows batch(es) (gather, predictor,
// blend: the whole `slidingWindowInference` call, as src/train/validate.ts runs it). MONAI: bench/monai_inference.py
// with OMP_WAIT_POLICY=PASSIVE.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { helpIfAsked, runJob, runWorkerOrMain } from './common.mjs';

const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
const args = process.argv.slice(2);
helpIfAsked(import.meta.url, args);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const flag = (name) => args.includes(name);

const tinyUnetr = (n) => ({ in_channels: 1, out_channels: 14, img_size: [n, n, n], feature_size: 16, hidden_size: 96, mlp_dim: 384, num_heads: 4, proj_type: 'conv', norm_name: 'instance', res_block: true, dropout_rate: 0.0 });
const CONFIGS = {
  tiny32: tinyUnetr(32),
  tiny48: tinyUnetr(48),
  full: { in_channels: 1, out_channels: 14, img_size: [96, 96, 96], feature_size: 16, hidden_size: 768, mlp_dim: 3072, num_heads: 12, proj_type: 'conv', norm_name: 'instance', res_block: true, dropout_rate: 0.0 },
};

async function worker(job) {
  const { initBackend } = require(path.join(root, 'dist/backend/select.js'));
  const { tf, info } = await initBackend(job.backend);
  const lib = require(path.join(root, 'dist/index.js'));
  const model = new lib.UNETR(job.args);
  model.eval();
  const [X, Y, Z] = job.shape;
  const data = new Float32Array(X * Y * Z);
  for (let i = 0; i < data.length; i++) data[i] = Math.random();
  const predictor = (b) => tf.tidy(() => model.forward(b));
  const roi = job.args.img_size;
  for (let i = 0; i < job.warmup; i++) {
    const y = predictor(tf.randomUniform([job.swBatch, ...roi, 1]));
    y.dataSync();
    tf.dispose(y);
  }
  const times = [];
  let windows = 0;
  let outShape = null;
  for (let i = 0; i < job.repeats; i++) {
    const t = performance.now();
    const out = await lib.slidingWindowInference({ data, shape: [1, X, Y, Z] }, roi, job.swBatch, predictor, {
      overlap: job.overlap,
      onProgress: (_, total) => (windows = total),
    });
    times.push((performance.now() - t) / 1000);
    outShape = out.shape;
    process.stdout.write(JSON.stringify({ partial: true, times }) + '\n');
  }
  const med = [...times].sort((a, c) => a - c)[Math.floor(times.length / 2)];
  const mem = tf.memory();
  process.stdout.write(
    JSON.stringify({ median_s: med, times, windows, out_shape: outShape, peak_rss_mb: process.resourceUsage().maxRSS / 1024, tf_tensors_after: mem.numTensors, backend: info.name }) + '\n',
  );
}

async function main() {
  const { availableBackends } = require(path.join(root, 'dist/backend/select.js'));
  const installed = availableBackends();
  const configs = opt('--configs', 'tiny32,tiny48,full').split(',');
  for (const c of configs) if (!CONFIGS[c]) throw new Error(`unknown config '${c}' (tiny32, tiny48, full)`);
  const backends = opt('--backends', ['native', 'wasm'].filter((b) => installed.includes(b)).join(',')).split(',');
  const shape = opt('--shape', '224,176,48').split(',').map(Number);
  if (shape.length !== 3 || shape.some((n) => !(n > 0))) throw new Error(`--shape must be X,Y,Z, got ${opt('--shape')}`);
  const base = { shape, swBatch: Number(opt('--sw-batch', 4)), overlap: Number(opt('--overlap', 0.25)), repeats: Number(opt('--repeats', 2)), warmup: Number(opt('--warmup', 1)) };
  const timeoutS = Number(opt('--timeout-s', 1800));
  const python = opt('--python', 'python3');
  const load0 = os.loadavg();
  const rows = [];
  for (const config of configs) {
    const job = { ...base, args: CONFIGS[config] };
    let monai = null;
    if (!flag('--skip-monai')) {
      process.stderr.write(`${config}: MONAI...\n`);
      monai = runJob(
        python,
        [path.join(root, 'bench/monai_inference.py'), JSON.stringify({ args: job.args, shape, roi: job.args.img_size, sw_batch_size: base.swBatch, overlap: base.overlap, repeats: base.repeats, warmup: base.warmup })],
        { OMP_WAIT_POLICY: 'PASSIVE' },
        timeoutS,
      );
    }
    for (const backend of config === 'full' && !flag('--full-wasm') ? backends.filter((b) => b !== 'wasm') : backends) {
      process.stderr.write(`${config}: ssl3d ${backend}...\n`);
      rows.push({ config, backend, ssl3d: runJob(process.execPath, [self, '--worker', JSON.stringify({ ...job, backend })], {}, timeoutS), monai });
    }
  }
  const load1 = os.loadavg();
  const mb = (v) => (v == null ? '–' : v >= 1024 ? `${(v / 1024).toFixed(2)} GiB` : `${v.toFixed(0)} MiB`);
  console.log(
    `\nsliding-window inference, ${shape.join('×')} volume, sw_batch ${base.swBatch}, overlap ${base.overlap}; median of ${base.repeats}; ` +
      `${os.cpus().length} × ${os.cpus()[0].model}; load avg ${load0[0].toFixed(2)} → ${load1[0].toFixed(2)}; ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log('| config | roi | windows | backend | ssl3d s/volume | MONAI s/volume | ratio | ssl3d peak RSS | MONAI peak RSS |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const o = r.ssl3d.error ? null : r.ssl3d;
    const m = r.monai && !r.monai.error ? r.monai : null;
    console.log(
      `| ${r.config} | ${CONFIGS[r.config].img_size[0]}³ | ${o?.windows ?? '–'} | ${r.backend} | ${o ? o.median_s.toFixed(2) : r.ssl3d.error} | ${m ? m.median_s.toFixed(2) : r.monai?.error ?? '–'} | ` +
        `${o && m ? `${(o.median_s / m.median_s).toFixed(2)}×` : '–'} | ${mb(o?.peak_rss_mb)} | ${mb(m?.peak_rss_mb)} |`,
    );
  }
  const out = opt('--json', null);
  if (out) {
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0].model, loadavg: [load0, load1], ...base, configs: Object.fromEntries(configs.map((c) => [c, CONFIGS[c]])), rows }, null, 1));
    console.log(`wrote ${out}`);
  }
}

runWorkerOrMain(args, worker, main);
