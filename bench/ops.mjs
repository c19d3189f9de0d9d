#!/usr/bin/env node
// Benchmark of the op layer at the tutorial's shapes, forward + backward, on each available TF.js backend, side by
// side with PyTorch (OMP_WAIT_POLICY=PASSIVE) on the same machine in one run. Prints a Markdown table.
// Usage: npm run build && node bench/ops.mjs [--repeats 3] [--backends native,wasm,cpu] [--python python3]
import { execFileSync } from 'node:child_process';
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
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const { availableBackends } = require(path.join(root, 'dist/backend/select.js'));
const ops = require(path.join(root, 'dist/nn/ops/index.js'));
const installed = availableBackends();
if (installed.includes('native')) require('@tensorflow/tfjs-node');
const wanted = opt('--backends', ['native', 'wasm'].filter((b) => installed.includes(b)).join(',')).split(',');
const tfName = { native: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

/** MONAI TransformerBlock (pre-norm) from the op layer; weights in ssl3d layouts. */
function vitBlock(p, x) {
  const [B, T, D] = x.shape;
  const H = 12, d = D / H;
  const h = ops.layerNorm(x, p.n1w, p.n1b);
  const qkv = tf.reshape(ops.linear(h, p.qkv), [B, T, 3, H, d]);
  const heads = (i) => tf.reshape(tf.transpose(tf.slice(qkv, [0, 0, i, 0, 0], [B, T, 1, H, d]), [0, 2, 3, 1, 4]), [B * H, T, d]);
  const [q, k, v] = [heads(0), heads(1), heads(2)];
  const att = ops.softmax(tf.mul(ops.bmm(q, tf.transpose(k, [0, 2, 1])), d ** -0.5));
  const o = tf.reshape(tf.transpose(tf.reshape(ops.bmm(att, v), [B, H, T, d]), [0, 2, 1, 3]), [B, T, D]);
  const x1 = tf.add(x, ops.linear(o, p.out, p.outb));
  return tf.add(x1, ops.linear(ops.gelu(ops.linear(ops.layerNorm(x1, p.n2w, p.n2b), p.l1, p.l1b)), p.l2, p.l2b));
}

function time(fn) {
  fn();
  const ts = [];
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    fn();
    ts.push((performance.now() - t) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

/** forward + backward (gradients wrt the input and every weight) of mean(f(x)²). */
function fwdBwd(f, inputs) {
  return () =>
    tf.tidy(() => {
      const g = tf.grads((...xs) => tf.mean(tf.square(f(...xs))))(inputs);
      g.forEach((t) => t.dataSync());
    });
}

function cases() {
  const r = (s, sc = 0.02) => tf.mul(tf.randomNormal(s), sc);
  const D = 768, M = 3072;
  const p = { n1w: tf.ones([D]), n1b: tf.zeros([D]), n2w: tf.ones([D]), n2b: tf.zeros([D]), qkv: r([D, 3 * D]), out: r([D, D]), outb: tf.zeros([D]), l1: r([D, M]), l1b: tf.zeros([M]), l2: r([M, D]), l2b: tf.zeros([D]) };
  const keys = Object.keys(p);
  const out = { vit_block: fwdBwd((x, ...w) => vitBlock(Object.fromEntries(keys.map((k, i) => [k, w[i]])), x), [tf.randomNormal([1, 216, D]), ...keys.map((k) => p[k])]) };
  for (const [n, c] of [[96, 16], [48, 32], [24, 64]]) {
    out[`conv3_${n}x${c}`] = fwdBwd((x, w) => ops.conv3d(x, w, undefined, { padding: 'same' }), [tf.randomNormal([1, n, n, n, c]), r([3, 3, 3, c, c], 0.1)]);
  }
  out['convT2_48x32to16'] = fwdBwd((x, w) => ops.convTranspose3d(x, w), [tf.randomNormal([1, 48, 48, 48, 32]), r([32, 2, 2, 2, 16], 0.1)]);
  return out;
}

const results = {};
for (const b of wanted) {
  await tf.setBackend(tfName[b]);
  await tf.ready();
  const cs = cases();
  for (const [name, fn] of Object.entries(cs)) {
    process.stderr.write(`${b} ${name}...\n`);
    (results[name] ??= {})[b] = time(fn);
  }
}
process.stderr.write('pytorch...\n');
const torch = JSON.parse(
  execFileSync(python, [path.join(root, 'bench/torch_ops.py'), String(repeats)], { env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } })
    .toString().trim().split('\n').pop(),
);
const label = {
  vit_block: 'ViT-B block, 216 tokens, fwd+bwd',
  conv3_96x16: 'conv 3³, 96³×16→16, fwd+bwd',
  conv3_48x32: 'conv 3³, 48³×32→32, fwd+bwd',
  conv3_24x64: 'conv 3³, 24³×64→64, fwd+bwd',
  convT2_48x32to16: 'conv-transpose k=s=2, 48³×32→96³×16, fwd+bwd',
};
console.log(`\nop layer vs PyTorch ${torch._threads} threads (OMP_WAIT_POLICY=PASSIVE); median of ${repeats}; ${os.cpus().length} × ${os.cpus()[0].model}; ${new Date().toISOString().slice(0, 10)}`);
console.log(`| op | PyTorch (s) | ${wanted.map((b) => `ssl3d ${b} (s) | ratio`).join(' | ')} |`);
console.log(`|---|---|${wanted.map(() => '---|---').join('|')}|`);
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${label[name]} | ${torch[name].toFixed(3)} | ${wanted.map((b) => `${r[b].toFixed(3)} | ${(r[b] / torch[name]).toFixed(1)}×`).join(' | ')} |`);
}
