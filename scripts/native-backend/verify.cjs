// Checks that @tensorflow/tfjs-node (or the package named as the argument, e.g. @tensorflow/tfjs-node-gpu) loads and
// computes on the native 'tensorflow' backend.
// Run from the repository root: node scripts/native-backend/verify.cjs [package]   (exit 0 = OK)
'use strict';

const PKG = process.argv[2] || '@tensorflow/tfjs-node';

function fail(msg) {
  console.error(`verify: FAILED: ${msg}`);
  process.exit(1);
}

let tf;
try {
  tf = require(PKG);
} catch (e) {
  fail(`require('${PKG}') threw: ${e && e.stack ? e.stack : e}`);
}

(async () => {
  await tf.ready();
  const backend = tf.getBackend();
  if (backend !== 'tensorflow') fail(`tf.getBackend() is '${backend}', expected 'tensorflow'`);

  // matmul: [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
  const mm = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync();
  const mmWant = [[19, 22], [43, 50]];
  if (JSON.stringify(mm) !== JSON.stringify(mmWant)) fail(`matMul gave ${JSON.stringify(mm)}`);

  // conv3d: ones [1,4,4,4,2] * ones [3,3,3,2,3], 'same' padding: an interior voxel sums 27*2 = 54, a corner 8*2 = 16.
  const y = tf.conv3d(tf.ones([1, 4, 4, 4, 2]), tf.ones([3, 3, 3, 2, 3]), 1, 'same');
  const shape = y.shape.join('x');
  const v = y.arraySync();
  if (shape !== '1x4x4x4x3' || v[0][1][1][1][0] !== 54 || v[0][0][0][0][2] !== 16) {
    fail(`conv3d gave shape ${shape}, interior ${v[0][1][1][1][0]}, corner ${v[0][0][0][0][2]}`);
  }

  let tfVersion = '?';
  let device = '';
  try {
    tfVersion = tf.backend().binding.TF_Version;
    if (PKG.endsWith('-gpu')) device = `, GPU device in use: ${tf.backend().binding.isUsingGpuDevice()}`;
  } catch (_) {
    /* older bindings */
  }
  console.log(
    `verify: OK: backend=${backend} (tf.getBackend() === 'tensorflow': true), TensorFlow C library ${tfVersion}, ` +
      `${PKG} ${tf.version['tfjs-node']}, tfjs-core ${tf.version['tfjs-core']}${device}; matMul and conv3d correct`,
  );
})().catch((e) => fail(e && e.stack ? e.stack : String(e)));
