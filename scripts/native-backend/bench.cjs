// Sanity benchmark + correctness check for the native backend (@tensorflow/tfjs-node), with wasm for comparison.
// Run from the repository root after `npm run backend:native`:
//   node scripts/native-backend/bench.cjs [--no-wasm] [--reps N]      (about 3 minutes with wasm, 15 s without)
// 1) 2-D matmul 1024x1024 (GFLOP/s); 2) conv3d 3x3x3 on [1,48,48,48,32] -> 32 channels, forward and
// forward+backward (tf.grads wrt input and filter), seconds; 3) max |native - cpu| for conv3d's input and filter
// gradients and for conv3dTranspose (k=2, s=2).
'use strict';

const args = process.argv.slice(2);
const REPS = args.includes('--reps') && Number(args[args.indexOf('--reps') + 1]) > 0 ? Number(args[args.indexOf('--reps') + 1]) : 5;
const WITH_WASM = !args.includes('--no-wasm');

const tf = require('@tensorflow/tfjs-node');

function rand(n, seed) {
  // deterministic uniform(-1, 1)
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}
const prod = (shape) => shape.reduce((p, d) => p * d, 1);
const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

async function timeIt(fn, reps, warmUp = true) {
  if (warmUp) tf.dispose(fn());
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    const r = fn();
    const list = Array.isArray(r) ? r : [r];
    for (const t of list) await t.data(); // wait for the result
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
    tf.dispose(r);
  }
  return median(ts);
}

async function speed(backend) {
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) throw new Error(`could not switch to ${backend}`);
  const res = { backend };

  const N = 1024;
  const a = tf.tensor2d(rand(N * N, 1), [N, N]);
  const b = tf.tensor2d(rand(N * N, 2), [N, N]);
  const tMm = await timeIt(() => tf.matMul(a, b), Math.max(REPS, 10));
  res.matmulGflops = (2 * N ** 3) / tMm / 1e9;
  tf.dispose([a, b]);

  const xs = [1, 48, 48, 48, 32];
  const ws = [3, 3, 3, 32, 32];
  const x = tf.tensor(rand(prod(xs), 3), xs);
  const w = tf.tensor(rand(prod(ws), 4), ws).mul(0.05);
  const dy = tf.tensor(rand(prod(xs), 5), xs);
  const flopsFwd = 2 * prod(xs.slice(0, 4)) * 27 * 32 * 32;
  // wasm's conv3d is a naive loop (tens of seconds here): a single run, no warm-up.
  const fast = backend === 'tensorflow';
  res.conv3dFwdS = await timeIt(() => tf.conv3d(x, w, 1, 'same'), fast ? REPS : 1, fast);
  const g = tf.grads((xx, ww) => tf.conv3d(xx, ww, 1, 'same').mul(dy).sum());
  res.conv3dFwdBwdS = await timeIt(() => g([x, w]), fast ? REPS : 1, fast);
  res.conv3dFwdGflops = flopsFwd / res.conv3dFwdS / 1e9;
  res.conv3dFwdBwdGflops = (3 * flopsFwd) / res.conv3dFwdBwdS / 1e9;
  tf.dispose([x, w, dy]);
  return res;
}

/** conv3d input/filter gradients and conv3dTranspose (k=2,s=2) on the current backend, as plain arrays. */
async function convResults(backend) {
  await tf.setBackend(backend);
  await tf.ready();
  const xs = [2, 9, 8, 7, 5];
  const ws = [3, 3, 3, 5, 6];
  const ys = [2, 9, 8, 7, 6];
  const x = tf.tensor(rand(prod(xs), 11), xs);
  const w = tf.tensor(rand(prod(ws), 12), ws);
  const dy = tf.tensor(rand(prod(ys), 13), ys);
  const [dx, dw] = tf.grads((xx, ww) => tf.conv3d(xx, ww, 1, 'same').mul(dy).sum())([x, w]);
  // conv3dTranspose k=2 s=2: input [2,4,5,3,6] -> output [2,8,10,6,3]; filter [kd,kh,kw,outC,inC]
  const ti = tf.tensor(rand(2 * 4 * 5 * 3 * 6, 14), [2, 4, 5, 3, 6]);
  const tw = tf.tensor(rand(2 * 2 * 2 * 3 * 6, 15), [2, 2, 2, 3, 6]);
  const tOut = tf.conv3dTranspose(ti, tw, [2, 8, 10, 6, 3], 2, 'same');
  let tGrad = 'ok';
  try {
    tf.grad((t) => tf.conv3dTranspose(t, tw, [2, 8, 10, 6, 3], 2, 'same').sum())(ti);
  } catch (e) {
    tGrad = `throws: ${e.message.split('\n')[0]}`;
  }
  const r = { dx: await dx.data(), dw: await dw.data(), tOut: await tOut.data(), tGrad };
  tf.dispose([x, w, dy, dx, dw, ti, tw, tOut]);
  return r;
}

function maxAbsDiff(p, q) {
  let m = 0;
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    m = Math.max(m, Math.abs(p[i] - q[i]));
    s = Math.max(s, Math.abs(q[i]));
  }
  return `${m.toExponential(2)} (max |ref| ${s.toFixed(2)})`;
}

(async () => {
  await tf.ready();
  console.log(`tfjs-node ${tf.version['tfjs-node']}, TensorFlow C library ${tf.backend().binding.TF_Version}`);

  let wasmOk = false;
  if (WITH_WASM) {
    try {
      require('@tensorflow/tfjs-backend-wasm');
      wasmOk = tf.findBackendFactory('wasm') != null;
      console.log(
        wasmOk
          ? 'wasm backend registered on the same tfjs-core instance as tfjs-node'
          : 'wasm backend registered on a different tfjs-core instance (tfjs-node has its own copy): skipping wasm',
      );
    } catch (e) {
      console.log(`wasm backend not loadable: ${e.message}`);
    }
  }

  const rows = [await speed('tensorflow')];
  if (wasmOk) rows.push(await speed('wasm'));
  console.log('\nbackend     matmul1024 GFLOP/s  conv3d fwd s (GFLOP/s)  conv3d fwd+bwd s (GFLOP/s)');
  for (const r of rows) {
    console.log(
      `${r.backend.padEnd(12)}${r.matmulGflops.toFixed(1).padStart(18)}  ` +
        `${r.conv3dFwdS.toFixed(3)} (${r.conv3dFwdGflops.toFixed(1)})`.padStart(22) +
        `  ${r.conv3dFwdBwdS.toFixed(3)} (${r.conv3dFwdBwdGflops.toFixed(1)})`.padStart(28),
    );
  }

  const ref = await convResults('cpu');
  const nat = await convResults('tensorflow');
  console.log('\ncorrectness vs the pure-JS cpu backend (max abs diff):');
  console.log(`  tensorflow conv3d dx            ${maxAbsDiff(nat.dx, ref.dx)}`);
  console.log(`  tensorflow conv3d dw            ${maxAbsDiff(nat.dw, ref.dw)}`);
  console.log(`  tensorflow conv3dTranspose k2s2 ${maxAbsDiff(nat.tOut, ref.tOut)}`);
  console.log(`  conv3dTranspose gradient: tensorflow ${nat.tGrad}; cpu ${ref.tGrad}`);
  if (wasmOk) {
    const wr = await convResults('wasm');
    console.log(`  wasm conv3d dx                  ${maxAbsDiff(wr.dx, ref.dx)}`);
    console.log(`  wasm conv3d dw                  ${maxAbsDiff(wr.dw, ref.dw)}`);
    console.log(`  wasm conv3dTranspose k2s2       ${maxAbsDiff(wr.tOut, ref.tOut)}`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
