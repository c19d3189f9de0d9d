#!/usr/bin/env node
// Where a training step's time goes, kernel by kernel: runs warm-up steps, then one step under tf.profile and
// prints the kernels grouped by name (count, total ms, share), the sum of kernel times against the step's wall
// time (the rest is JavaScript: autodiff bookkeeping, tensor churn, the optimizer's small ops).
//
// Usage: npm run build && node bench/profile_step.mjs [--net unetr|vitautoenc] [--config tiny32|tiny48|full|demo]
//        [--batch 2] [--backend native|wasm|cpu] [--phase train|forward] [--top 25] [--by name|shape]
// "demo" = the fine-tuning preset of `ssl3d demo` (32³, UNETR feature 8, hidden 96).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    'node bench/profile_step.mjs [--net unetr|vitautoenc] [--config tiny32|tiny48|full|demo] [--batch 2] [--backend native|wasm|cpu] [--phase train|forward] [--top 25] [--by name|shape]\n',
  );
  process.exit(0);
}
const net = opt('--net', 'unetr');
const config = opt('--config', 'tiny32');
const b = Number(opt('--batch', 2));
const phase = opt('--phase', 'train');
const top = Number(opt('--top', 25));
const by = opt('--by', 'name');

const tinyVit = (n) => ({ in_channels: 1, img_size: [n, n, n], patch_size: [16, 16, 16], proj_type: 'conv', hidden_size: 96, mlp_dim: 384, num_layers: 4, num_heads: 4 });
const tinyUnetr = (n, f = 16) => ({ in_channels: 1, out_channels: 14, img_size: [n, n, n], feature_size: f, hidden_size: 96, mlp_dim: 384, num_heads: 4, proj_type: 'conv', norm_name: 'instance', res_block: true, dropout_rate: 0 });
const CONFIGS = {
  tiny32: { vitautoenc: tinyVit(32), unetr: tinyUnetr(32) },
  tiny48: { vitautoenc: tinyVit(48), unetr: tinyUnetr(48) },
  demo: { vitautoenc: { ...tinyVit(32), num_layers: 12 }, unetr: tinyUnetr(32, 8) },
  full: {
    vitautoenc: { in_channels: 1, img_size: [96, 96, 96], patch_size: [16, 16, 16], proj_type: 'conv', hidden_size: 768, mlp_dim: 3072, num_layers: 12, num_heads: 12, deconv_chns: 16 },
    unetr: { in_channels: 1, out_channels: 14, img_size: [96, 96, 96], feature_size: 16, hidden_size: 768, mlp_dim: 3072, num_heads: 12, proj_type: 'conv', norm_name: 'instance', res_block: true, dropout_rate: 0 },
  },
};
const cfg = CONFIGS[config]?.[net];
if (!cfg) throw new Error(`unknown --config ${config} / --net ${net}`);

const { initBackend } = require(path.join(root, 'dist/backend/select.js'));
const { tf, info } = await initBackend(opt('--backend'));
tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
const lib = require(path.join(root, 'dist/index.js'));
const { Adam } = require(path.join(root, 'dist/train/optim.js'));
const model = net === 'vitautoenc' ? new lib.ViTAutoEnc(cfg) : new lib.UNETR(cfg);
const shape = [b, ...cfg.img_size, 1];
const x = tf.randomUniform(shape);
let step;
if (phase === 'forward') {
  model.eval();
  step = () => {
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
  const opt2 = net === 'vitautoenc' ? new Adam(named, { lr: 1e-4 }) : new Adam(named, { lr: 1e-4, weightDecay: 1e-5, decoupled: true });
  const x2 = tf.randomUniform(shape);
  const gt = tf.randomUniform(shape);
  const y = tf.floor(tf.randomUniform([b, ...cfg.img_size, 1], 0, 14));
  const lossFn = net === 'vitautoenc' ? () => lib.regularizedSslLoss(model.forward(x).out, model.forward(x2).out, gt).total : () => lib.diceCELoss(model.forward(x), y);
  step = () => {
    const { value, grads } = tf.variableGrads(lossFn, vars);
    opt2.apply(grads);
    value.dataSync();
    value.dispose();
    tf.dispose(Object.values(grads));
  };
}
step();
let t = performance.now();
step();
const wallPlain = performance.now() - t;
t = performance.now();
const prof = await tf.profile(() => step());
const wallProf = performance.now() - t;
const groups = new Map();
let sum = 0;
for (const k of prof.kernels) {
  const ms = await k.kernelTimeMs;
  const timeMs = typeof ms === 'number' ? ms : (ms?.error ? 0 : Number(ms) || 0);
  if (k.name === 'unnamed scope') continue; // a custom op: its time is its inner kernels', counted on their own
  sum += timeMs;
  const key = by === 'shape' ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const g = groups.get(key) ?? { n: 0, ms: 0 };
  g.n++;
  g.ms += timeMs;
  groups.set(key, g);
}
const cat = (name) => (/MatMul/.test(name) ? 'matmul' : /Conv/.test(name) ? 'conv' : /Transpose/.test(name) ? 'transpose' : /Reshape|Pack|Unpack|Concat|Slice|Split|Pad/.test(name) ? 'reshape/copy' : 'elementwise/reduce');
const cats = new Map();
for (const [k, g] of groups) {
  const c = cat(k.split(' ')[0]);
  const e = cats.get(c) ?? { n: 0, ms: 0 };
  e.n += g.n;
  e.ms += g.ms;
  cats.set(c, e);
}
const rows = [...groups.entries()].sort((a, c) => c[1].ms - a[1].ms).slice(0, top);
process.stdout.write(`${net} ${config} ${phase} batch ${b} on ${info.name}: wall ${wallPlain.toFixed(0)} ms (under the profiler ${wallProf.toFixed(0)} ms); ${prof.kernels.length} kernels, sum of kernel times ${sum.toFixed(0)} ms (${((100 * sum) / wallProf).toFixed(0)} % of the profiled wall); peak ${(prof.peakBytes / 2 ** 20).toFixed(0)} MiB\n`);
process.stdout.write('by kind: ' + [...cats.entries()].sort((a, c) => c[1].ms - a[1].ms).map(([c, e]) => `${c} ${e.ms.toFixed(0)} ms (${e.n}×)`).join(', ') + '\n');
for (const [k, g] of rows) process.stdout.write(`${g.ms.toFixed(1).padStart(9)} ms ${((100 * g.ms) / sum).toFixed(1).padStart(5)} % ${String(g.n).padStart(5)}×  ${k}\n`);
