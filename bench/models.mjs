#!/usr/bin/env node
// Benchmark of the networks, ssl3d vs MONAI, per sample: forward (eval, no gradients) and a training step (the
// tutorial's: ViTAutoEnc two views + L1 + contrastive `r + cl·r` + Adam; UNETR DiceCE on the logits + AdamW), with
// peak memory. Every (config, network, phase, backend) runs in its own process, so the peaks are per measurement.
//
// Usage: npm run build && node bench/models.mjs [--configs tiny,full] [--nets vitautoenc,unetr]
//        [--phases forward,train] [--backends native,wasm] [--full-wasm] [--batch 2] [--repeats 3]
//        [--repeats-full 3] [--warmup 1] [--warmup-s 3] [--json out.json] [--python python3] [--skip-monai] [--timeout-s 1800]
//        [--timeout-full-s S] [--deadline-s S] [--monai-device cpu|cuda] [--no-tf-peak] [--print-jobs]
//
// Configs: tiny32 / tiny48 ("tiny" = both): img 32³ / 48³, patch 16, hidden 96, mlp 384, 4 heads; ViTAutoEnc 4
// layers, UNETR (12 layers, fixed) feature 16, 14 classes. full: the tutorial's (spec §3.1/§3.2): 96³, ViT-B
// (hidden 768, mlp 3072, 12 layers, 12 heads); UNETR feature 16, 14 classes.
// Backends: default native (if installed) + wasm for tiny configs, native only for full (wasm at 96³ takes many
// minutes per step; add it with --full-wasm).
// Batch: B crops per step on both sides (default 2): ViTAutoEnc B crops × 2 views (the tutorial's pairs), UNETR B
// crops. s/sample = median step time / B. Inputs are random (uniform [0,1); labels uniform in [0,14)).
// Memory: ssl3d "peak RSS" = process.resourceUsage().maxRSS after the timed steps (the process: Node, TF.js, model,
// optimizer state, activations; the wasm heap is inside it); "tf peak" = tf.profile's peakBytes over one extra step
// (TF.js's own count of live tensor bytes, logical sizes; it can exceed the RSS). MONAI: resource.getrusage(RUSAGE_SELF).ru_maxrss. MONAI runs bench/monai_models.py with
// OMP_WAIT_POLICY=PASSIVE (PyTorch's default thread count).
// webgpu (forced only; see src/backend/select.ts): TF.js's webgpu backend cannot read synchronously in Node, so its
// steps end with `await data()` of a scalar (forward: the sum of the output; train: the loss), which waits for all
// GPU work queued before it. Timeouts: --timeout-s per measurement (--timeout-full-s for the full config); the worker
// prints a partial line after every step, so a measurement that is killed still reports the steps it finished
// (error 'killed ...', partial: true). --deadline-s: no new measurement starts after that many seconds (recorded as
// 'skipped (deadline)'), and none runs past it. --monai-device cuda runs MONAI on the GPU (bench/monai_models.py).
// --print-jobs prints the MONAI jobs of the selection as one JSON list (bench/monai_models.py runs such a list in one
// process) and exits.
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
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const flag = (name) => args.includes(name);
helpIfAsked(import.meta.url, args);

const tinyVit = (n) => ({ in_channels: 1, img_size: [n, n, n], patch_size: [16, 16, 16], proj_type: 'conv', hidden_size: 96, mlp_dim: 384, num_layers: 4, num_heads: 4 });
const tinyUnetr = (n) => ({ in_channels: 1, out_channels: 14, img_size: [n, n, n], feature_size: 16, hidden_size: 96, mlp_dim: 384, num_heads: 4, proj_type: 'conv', norm_name: 'instance', res_block: true, dropout_rate: 0.0 });
const CONFIGS = {
  tiny32: { vitautoenc: tinyVit(32), unetr: tinyUnetr(32) },
  tiny48: { vitautoenc: tinyVit(48), unetr: tinyUnetr(48) },
  full: {
    vitautoenc: { in_channels: 1, img_size: [96, 96, 96], patch_size: [16, 16, 16], proj_type: 'conv', hidden_size: 768, mlp_dim: 3072, num_layers: 12, num_heads: 12, deconv_chns: 16 },
    unetr: { in_channels: 1, out_channels: 14, img_size: [96, 96, 96], feature_size: 16, hidden_size: 768, mlp_dim: 3072, num_heads: 12, proj_type: 'conv', norm_name: 'instance', res_block: true, dropout_rate: 0.0 },
  },
};

// ---------------------------------------------------------------------------------------------------- worker ----
/** One measurement in this process; prints one JSON line. */
async function worker(job) {
  const { initBackend } = require(path.join(root, 'dist/backend/select.js'));
  const { tf, info } = await initBackend(job.backend);
  const lib = require(path.join(root, 'dist/index.js'));
  let Adam;
  let adamSource = 'ssl3d (dist/train/optim.js)';
  try {
    ({ Adam } = require(path.join(root, 'dist/train/optim.js')));
  } catch {
    Adam = InlineAdam(tf);
    adamSource = 'bench inline (PyTorch formula)';
  }
  tf.randomUniform([1]).dispose(); // settle the backend before measuring
  const { net, args: cfg, phase, batch: b } = job;
  const model = net === 'vitautoenc' ? new lib.ViTAutoEnc(cfg) : new lib.UNETR(cfg);
  const shape = [b, ...cfg.img_size, cfg.in_channels ?? 1]; // NDHWC inside ssl3d
  const x = tf.randomUniform(shape);
  // webgpu: no synchronous reads in Node; a scalar read waits for everything queued before it. A shader that fails
  // to compile makes the GPU skip work silently: count the device's uncaptured errors (timings are void if any).
  const gpu = info.name === 'webgpu';
  const gpuErrors = { n: 0, first: null };
  if (gpu) {
    tf.backend().device.addEventListener('uncapturederror', (e) => {
      gpuErrors.n++;
      gpuErrors.first ??= String(e.error?.message ?? e).split('\n')[0];
    });
  }
  let step;
  if (phase === 'forward') {
    model.eval();
    step = gpu
      ? async () => {
          const s = tf.tidy(() => {
            const r = model.forward(x);
            return tf.sum('out' in r ? r.out : r);
          });
          await s.data();
          s.dispose();
        }
      : () => {
          const y = tf.tidy(() => {
            const r = model.forward(x);
            return 'out' in r ? r.out : r;
          });
          y.dataSync();
          y.dispose();
        };
  } else {
    model.train();
    const named = model.namedParameters().map(([n, p]) => [n, p.variable]);
    const vars = named.map(([, v]) => v);
    const opt = net === 'vitautoenc' ? new Adam(named, { lr: 1e-4 }) : new Adam(named, { lr: 1e-4, weightDecay: 1e-5, decoupled: true });
    let lossFn;
    if (net === 'vitautoenc') {
      const x2 = tf.randomUniform(shape);
      const gt = tf.randomUniform(shape);
      // both views in one pass over [x; x2], as src/train/pretrain.ts does (MONAI: the tutorial's two calls)
      lossFn = () => {
        const [o1, o2] = model.forwardViews(x, x2);
        return lib.regularizedSslLoss(o1, o2, gt).total;
      };
    } else {
      const y = tf.floor(tf.randomUniform([b, ...cfg.img_size, 1], 0, cfg.out_channels));
      lossFn = () => lib.diceCELoss(model.forward(x), y);
    }
    step = async () => {
      const { value, grads } = tf.variableGrads(lossFn, vars);
      opt.apply(grads);
      if (gpu) await value.data();
      else value.dataSync();
      value.dispose();
      tf.dispose(Object.values(grads));
    };
  }
  const warmupTimes = [];
  const times = [];
  const partial = () =>
    process.stdout.write(JSON.stringify({ partial: true, warmup_times: warmupTimes, times, backend: info.name, ...(gpu ? { gpu_errors: gpuErrors.n } : {}) }) + '\n');
  // at least `warmup` steps, and until `warmup_s` seconds have passed (V8 optimises the hot JS over the first tens of
  // steps: a tiny step is ~1.5× slower in steps 4–23 than after step 100)
  const w0 = performance.now();
  for (let i = 0; i < job.warmup || (performance.now() - w0 < (job.warmup_s ?? 0) * 1000 && i < 2000); i++) {
    const t = performance.now();
    await step();
    warmupTimes.push((performance.now() - t) / 1000);
    if (i < job.warmup || i % 50 === 0) partial();
  }
  for (let i = 0; i < job.repeats; i++) {
    const t = performance.now();
    await step();
    times.push((performance.now() - t) / 1000);
    partial();
  }
  const med = [...times].sort((a, c) => a - c)[Math.floor(times.length / 2)];
  const peakRssMb = process.resourceUsage().maxRSS / 1024; // kilobytes → MiB
  const tfNow = tf.memory();
  let tfPeakMb = null;
  if (job.tfPeak) {
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
    const prof = await tf.profile(async () => {
      await step();
    });
    tfPeakMb = prof.peakBytes / 2 ** 20;
  }
  const result = {
    median_s: med,
    per_sample_s: med / b,
    times,
    warmup_times: warmupTimes,
    peak_rss_mb: peakRssMb,
    tf_peak_mb: tfPeakMb,
    tf_bytes_after_mb: tfNow.numBytes / 2 ** 20,
    tf_tensors_after: tfNow.numTensors,
    backend: info.name,
    ...(gpu ? { adapter: adapterInfo(tf), tf_gpu_mb_after: (tfNow.numBytesInGPU ?? 0) / 2 ** 20, gpu_errors: gpuErrors.n, gpu_error_first: gpuErrors.first } : {}),
    optimizer: phase === 'train' ? adamSource : undefined,
    params: model.numParameters(),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** The WebGPU adapter's vendor/architecture/description (what Dawn picked). */
function adapterInfo(tf) {
  const a = tf.backend().adapterInfo ?? {};
  return [a.vendor, a.architecture, a.description ?? a.device].filter(Boolean).join(' / ');
}

/** PyTorch's Adam/AdamW update, used when this build of ssl3d has no optimizer yet (same op count per parameter). */
function InlineAdam(tf) {
  return class {
    constructor(params, o) {
      this.lr = o.lr;
      this.wd = o.weightDecay ?? 0;
      this.decoupled = !!o.decoupled;
      this.t = 0;
      this.slots = params.map(([, p]) => ({ p, m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) }));
    }
    apply(grads) {
      this.t += 1;
      const [b1, b2, eps] = [0.9, 0.999, 1e-8];
      const bc1 = 1 - b1 ** this.t;
      const bc2s = Math.sqrt(1 - b2 ** this.t);
      for (const s of this.slots) {
        const g0 = grads[s.p.name];
        if (!g0) continue;
        tf.tidy(() => {
          let th = s.p;
          let g = g0;
          if (this.decoupled && this.wd) th = tf.mul(th, 1 - this.lr * this.wd);
          if (!this.decoupled && this.wd) g = tf.add(g, tf.mul(th, this.wd));
          const m = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1));
          const v = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(g), 1 - b2));
          s.m.assign(m);
          s.v.assign(v);
          s.p.assign(tf.sub(th, tf.mul(tf.div(m, tf.add(tf.div(tf.sqrt(v), bc2s), eps)), this.lr / bc1)));
        });
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------------- driver ----
async function main() {
  const { availableBackends } = require(path.join(root, 'dist/backend/select.js'));
  const installed = availableBackends();
  const expand = (s) => s.split(',').flatMap((c) => (c === 'tiny' ? ['tiny32', 'tiny48'] : [c]));
  const configs = expand(opt('--configs', 'tiny,full'));
  for (const c of configs) if (!CONFIGS[c]) throw new Error(`unknown config '${c}' (tiny, tiny32, tiny48, full)`);
  const nets = opt('--nets', 'vitautoenc,unetr').split(',');
  const phases = opt('--phases', 'forward,train').split(',');
  const backends = opt('--backends', ['native', 'wasm'].filter((b) => installed.includes(b)).join(',')).split(',');
  const fullBackends = flag('--full-wasm') ? backends : backends.filter((b) => b !== 'wasm');
  const batch = Number(opt('--batch', 2));
  const repeats = Number(opt('--repeats', 3));
  const repeatsFull = Number(opt('--repeats-full', repeats));
  const warmup = Number(opt('--warmup', 1));
  const warmupS = Number(opt('--warmup-s', 3));
  const python = opt('--python', 'python3');
  const timeoutS = Number(opt('--timeout-s', 1800));
  const timeoutFullS = Number(opt('--timeout-full-s', timeoutS));
  const deadline = performance.now() / 1000 + Number(opt('--deadline-s', Infinity));
  const budget = (cap) => Math.min(cap, Math.floor(deadline - performance.now() / 1000));
  const monaiDevice = opt('--monai-device', 'cpu');
  const tfPeak = !flag('--no-tf-peak');
  if (flag('--print-jobs')) {
    const jobs = [];
    for (const config of configs)
      for (const net of nets)
        for (const phase of phases) {
          const reps = config === 'full' ? repeatsFull : repeats;
          jobs.push({ config, net, args: CONFIGS[config][net], phase, batch, repeats: reps, warmup, warmup_s: warmupS, ...(monaiDevice === 'cpu' ? {} : { device: monaiDevice }) });
        }
    console.log(JSON.stringify(jobs));
    return;
  }
  const load0 = os.loadavg();
  const rows = [];
  for (const config of configs) {
    for (const net of nets) {
      for (const phase of phases) {
        const cfg = CONFIGS[config][net];
        const reps = config === 'full' ? repeatsFull : repeats;
        const job = { net, args: cfg, phase, batch, repeats: reps, warmup, warmup_s: warmupS };
        const cap = config === 'full' ? timeoutFullS : timeoutS;
        let monai = null;
        if (!flag('--skip-monai')) {
          process.stderr.write(`${config} ${net} ${phase}: MONAI${monaiDevice === 'cpu' ? '' : ` (${monaiDevice})`}...\n`);
          const mjob = monaiDevice === 'cpu' ? job : { ...job, device: monaiDevice };
          monai = runJob(python, [path.join(root, 'bench/monai_models.py'), JSON.stringify(mjob)], { OMP_WAIT_POLICY: 'PASSIVE' }, budget(cap));
        }
        for (const backend of config === 'full' ? fullBackends : backends) {
          process.stderr.write(`${config} ${net} ${phase}: ssl3d ${backend}...\n`);
          const ours = runJob(process.execPath, [self, '--worker', JSON.stringify({ ...job, backend, tfPeak: tfPeak && backend !== 'webgpu' })], {}, budget(cap));
          rows.push({ config, net, phase, backend, batch, repeats: reps, ssl3d: ours, monai });
        }
      }
    }
  }
  const load1 = os.loadavg();
  const f = (v, d = 3) => (v == null ? '–' : v < 0.01 ? v.toExponential(2) : v.toFixed(d));
  const mb = (v) => (v == null ? '–' : v >= 1024 ? `${(v / 1024).toFixed(2)} GiB` : `${v.toFixed(0)} MiB`);
  const monaiThreads = rows.find((r) => r.monai?.threads)?.monai.threads;
  console.log(
    `\nnetworks, ssl3d vs MONAI (PyTorch ${monaiThreads ?? '?'} threads, OMP_WAIT_POLICY=PASSIVE); batch ${batch} crops per step` +
      ` (ViTAutoEnc: × 2 views); median of ${repeats} (full: ${repeatsFull}) after ≥ ${warmup} warm-up step(s) and ≥ ${warmupS} s of warm-up; ` +
      `${os.cpus().length} × ${os.cpus()[0].model}; load avg ${load0[0].toFixed(2)} → ${load1[0].toFixed(2)}; ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log('| config | network | phase | backend | ssl3d s/sample | MONAI s/sample | ratio | ssl3d peak RSS | ssl3d tf peak | MONAI peak RSS |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const o = r.ssl3d.error || !r.ssl3d.median_s ? null : r.ssl3d;
    const m = r.monai && !r.monai.error ? r.monai : null;
    const ratio = o && m ? `${(o.per_sample_s / m.per_sample_s).toFixed(1)}×` : '–';
    console.log(
      `| ${r.config} | ${r.net} | ${r.phase} | ${r.backend} | ${o ? f(o.per_sample_s) : r.ssl3d.error} | ${m ? f(m.per_sample_s) : r.monai?.error ?? '–'} | ${ratio} | ` +
        `${mb(o?.peak_rss_mb)} | ${mb(o?.tf_peak_mb)} | ${mb(m?.peak_rss_mb)} |`,
    );
  }
  const opts = rows.map((r) => r.ssl3d.optimizer).filter(Boolean);
  if (opts.length) console.log(`\noptimizer (ssl3d): ${[...new Set(opts)].join(', ')}`);
  const out = opt('--json', null);
  if (out) {
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0].model, loadavg: [load0, load1], batch, repeats, repeatsFull, warmup, configs: Object.fromEntries(configs.map((c) => [c, CONFIGS[c]])), rows }, null, 1));
    console.log(`wrote ${out}`);
  }
}

runWorkerOrMain(args, worker, main);
