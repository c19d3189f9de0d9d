// Checks ssl3d's TensorFlow ops (ssl3d_ops.node, built by build_ops.sh) inside the native backend: the library loads
// into tfjs-node's TensorFlow, and each op agrees with the same computation made of TensorFlow's own ops.
// Run from the repository root: node scripts/native-backend/verify_ops.cjs [package]   (exit 0 = OK)
'use strict';
const path = require('path');

const PKG = process.argv[2] || '@tensorflow/tfjs-node';
function fail(msg) {
  console.error(`verify_ops: FAILED: ${msg}`);
  process.exit(1);
}
const tf = require(PKG);
const lib = path.join(path.dirname(require.resolve(`${PKG}/package.json`)), 'deps', 'lib', 'ssl3d_ops.node');
try {
  require(lib);
} catch (e) {
  fail(`loading ${lib}: ${e && e.message}`);
}
const b = tf.backend();
const info = (t) => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
const run = (name, inputs, n, attrs = []) => b.executeMultipleOutputs(name, attrs, inputs.map(info), n).map((o) => tf.engine().makeTensorFromTensorInfo(o));
const maxDiff = (a, r) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, r))).dataSync()[0] / Math.max(1, tf.max(tf.abs(r)).dataSync()[0]));
const eps = { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: 1e-5 };
const checks = [];
const x = tf.randomNormal([3, 37, 96], 0.5, 2, 'float32', 1);
const g = tf.randomNormal([96], 1, 0.5, 'float32', 2);
const be = tf.randomNormal([96], 0, 1, 'float32', 3);
const dy = tf.randomNormal([3, 37, 96], 0, 1, 'float32', 4);
// LayerNorm and its gradient against TensorFlow's ops through TF.js's autodiff
const [y, mean, rstd] = run('Ssl3dLayerNorm', [x, g, be], 3, [eps]);
const lnRef = (t, w, c) => {
  const m = tf.mean(t, -1, true);
  const d = tf.sub(t, m);
  return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(tf.mean(tf.square(d), -1, true), 1e-5))), w), c);
};
checks.push(['Ssl3dLayerNorm', maxDiff(y, lnRef(x, g, be))]);
const [dx, dg, db] = run('Ssl3dLayerNormGrad', [dy, x, mean, rstd, g], 3);
const [rdx, rdg, rdb] = tf.grads((t, w, c) => tf.sum(tf.mul(lnRef(t, w, c), dy)))([x, g, be]);
checks.push(['Ssl3dLayerNormGrad dx', maxDiff(dx, rdx)], ['Ssl3dLayerNormGrad dgamma', maxDiff(dg, rdg)], ['Ssl3dLayerNormGrad dbeta', maxDiff(db, rdb)]);
// GELU and its gradient
const geluRef = (t) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
checks.push(['Ssl3dGelu', maxDiff(run('Ssl3dGelu', [x], 1)[0], geluRef(x))]);
checks.push(['Ssl3dGeluGrad', maxDiff(run('Ssl3dGeluGrad', [dy, x], 1)[0], tf.grad((t) => tf.sum(tf.mul(geluRef(t), dy)))(x))]);
// heads: split against reshape/transpose/unstack (part 0 scaled), merge back, softmax's gradient against its formula
const [Bh, T, N, H, d] = [2, 5, 3, 4, 6];
const rows = tf.randomNormal([Bh * T, N * H * d], 0, 1, 'float32', 5);
const INT = b.binding.TF_ATTR_INT;
const split = run('Ssl3dSplitHeads', [rows], N, [
  { name: 'N', type: INT, value: N }, { name: 'batch', type: INT, value: Bh }, { name: 'heads', type: INT, value: H },
  { name: 'scale0', type: b.binding.TF_ATTR_FLOAT, value: 0.5 },
]);
const ref = tf.unstack(tf.reshape(tf.transpose(tf.reshape(rows, [Bh, T, N, H, d]), [2, 0, 3, 1, 4]), [N, Bh * H, T, d]));
checks.push(['Ssl3dSplitHeads', Math.max(...split.map((p, i) => maxDiff(p, i === 0 ? tf.mul(ref[i], 0.5) : ref[i])))]);
const merged = run('Ssl3dMergeHeads', split, 1, [{ name: 'N', type: INT, value: N }, { name: 'batch', type: INT, value: Bh }, { name: 'scale0', type: b.binding.TF_ATTR_FLOAT, value: 2 }])[0];
checks.push(['Ssl3dMergeHeads', maxDiff(merged, rows)]);
const sy = tf.softmax(x);
const sref = tf.mul(sy, tf.sub(dy, tf.sum(tf.mul(dy, sy), -1, true)));
checks.push(['Ssl3dSoftmaxGrad', maxDiff(run('Ssl3dSoftmaxGrad', [dy, sy], 1)[0], sref)]);
// instance norm [B, X, Y, Z, C] per sample and channel, and its gradient, against TensorFlow's ops through autodiff
const vol = tf.randomNormal([2, 5, 6, 7, 3], 1, 3, 'float32', 6);
const dvol = tf.randomNormal([2, 5, 6, 7, 3], 0, 1, 'float32', 7);
const inRef = (t) => {
  const m = tf.mean(t, [1, 2, 3], true);
  const c = tf.sub(t, m);
  return tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), [1, 2, 3], true), 1e-5)));
};
const [iy, im, ir] = run('Ssl3dInstanceNorm', [vol], 3, [eps]);
checks.push(['Ssl3dInstanceNorm', maxDiff(iy, inRef(vol))]);
checks.push(['Ssl3dInstanceNormGrad', maxDiff(run('Ssl3dInstanceNormGrad', [dvol, vol, im, ir], 1)[0], tf.grad((t) => tf.sum(tf.mul(inRef(t), dvol)))(vol))]);
// softmax, GELU(x + b) and its gradient
checks.push(['Ssl3dSoftmax', maxDiff(run('Ssl3dSoftmax', [x], 1)[0], tf.softmax(x))]);
checks.push(['Ssl3dBiasGelu', maxDiff(run('Ssl3dBiasGelu', [x, be], 1)[0], geluRef(tf.add(x, be)))]);
const [bgx, bgb] = run('Ssl3dBiasGeluGrad', [dy, x, be], 2);
const [rbx, rbb] = tf.grads((t, c) => tf.sum(tf.mul(geluRef(tf.add(t, c)), dy)))([x, be]);
checks.push(['Ssl3dBiasGeluGrad dx', maxDiff(bgx, rbx)], ['Ssl3dBiasGeluGrad db', maxDiff(bgb, rbb)]);
// Adam over a group (AdamW's decay): the same float32 operations as the op-by-op update, so equal bit for bit
const ps = [tf.randomNormal([4, 5], 0, 1, 'float32', 8), tf.randomNormal([3], 0, 1, 'float32', 9)];
const gs = [tf.randomNormal([4, 5], 0, 1, 'float32', 10), tf.randomNormal([3], 0, 1, 'float32', 11)];
const m0 = tf.randomNormal([23], 0, 0.1, 'float32', 12);
const v0 = tf.abs(tf.randomNormal([23], 0, 0.1, 'float32', 13));
const [lr, wd, b1, b2, e, t] = [1e-3, 1e-2, 0.9, 0.999, 1e-8, 3];
const FL = b.binding.TF_ATTR_FLOAT;
const hyper = { beta1: b1, beta2: b2, one_minus_beta1: 1 - b1, one_minus_beta2: 1 - b2, eps: e, step_size: lr / (1 - b1 ** t), bc2_sqrt: Math.sqrt(1 - b2 ** t), decay_factor: 1 - lr * wd, l2: 0 };
const adam = run('Ssl3dAdamGroup', [...ps, ...gs, m0, v0], 4, [{ name: 'N', type: INT, value: 2 }, ...Object.entries(hyper).map(([name, value]) => ({ name, type: FL, value }))]);
const gcat = tf.concat(gs.map((x) => x.reshape([-1])));
const th = tf.mul(tf.concat(ps.map((x) => x.reshape([-1]))), 1 - lr * wd);
const mm = tf.add(tf.mul(m0, b1), tf.mul(gcat, 1 - b1));
const vv = tf.add(tf.mul(v0, b2), tf.mul(tf.square(gcat), 1 - b2));
const upd = tf.sub(th, tf.mul(tf.div(mm, tf.add(tf.div(tf.sqrt(vv), hyper.bc2_sqrt), e)), hyper.step_size));
const got = tf.concat([adam[0].reshape([-1]), adam[1].reshape([-1])]);
const same = (a, r) => tf.tidy(() => tf.all(tf.equal(a, r)).dataSync()[0] === 1);
checks.push(['Ssl3dAdamGroup', same(got, upd) && same(adam[2], mm) && same(adam[3], vv) ? 0 : 1]);
const bad = checks.filter(([, d]) => !(d < 1e-4));
if (bad.length) fail(bad.map(([n, d]) => `${n}: relative max difference ${d}`).join('; '));
console.log(`verify_ops: OK: ${lib} loaded; ${checks.map(([n, d]) => `${n} ${d.toExponential(1)}`).join(', ')} (relative max difference)`);
