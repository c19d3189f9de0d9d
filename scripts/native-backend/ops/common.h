// ssl3d's TensorFlow CPU ops: what every op file shares. The ops are loaded into the native backend's TensorFlow
// (the one inside @tensorflow/tfjs-node) as one Node addon (addon.cc): loading it runs the REGISTER_OP and
// REGISTER_KERNEL_BUILDER initialisers of every file, which register the ops and their CPU kernels in TensorFlow's
// global registries, and tfjs-node then runs them by name like any TensorFlow op (src/backend/native_ops.ts).
//
// Why: TensorFlow has no LayerNorm, GELU, instance norm of a batch, head split or grouped Adam op, so eager TF.js
// runs them as chains of small ops (a LayerNorm is 9 forward and ~13 backward), each a kernel dispatch (~11 µs through
// tfjs-node at least) and a pass over memory. Here each is one op forward and one backward:
//
//   layer_norm.cc     Ssl3dLayerNorm(x [.., D], gamma, beta; epsilon) -> y, mean [rows], rstd [rows]
//                     Ssl3dLayerNormGrad(dy, x, mean, rstd, gamma) -> dx, dgamma, dbeta
//   instance_norm.cc  Ssl3dInstanceNorm(x [B, spatial.., C]; epsilon) -> y, mean [B, C], rstd [B, C]  (no affine)
//                     Ssl3dInstanceNormGrad(dy, x, mean, rstd) -> dx
//   activations.cc    Ssl3dGelu(x), Ssl3dGeluGrad(dy, x)                 (exact, erf form: approximate='none')
//                     Ssl3dBiasGelu(x [.., D], b [D]) -> GELU(x + b); Ssl3dBiasGeluGrad(dy, x, b) -> dx, db
//                     Ssl3dSoftmax(x), Ssl3dSoftmaxGrad(dy, y)           (over the last axis)
//   attention.cc      Ssl3dSplitHeads(x [B·T, N·H·d]; batch, heads, N, scale0) -> N × [B·H, T, d]
//                     Ssl3dMergeHeads(N × [B·H, T, d]; batch, scale0) -> [B·T, N·H·d]   (each the other's gradient)
//   adam.cc           Ssl3dAdamGroup(N params, N grads, m, v; ...) -> N params, m, v   (bit-identical to the op-by-op
//                     update of src/train/optim.ts)
//
// Results do not depend on the number of threads: statistics are per row (or per sample and channel), and column sums
// are summed over fixed blocks of rows, block by block in order.
//
// Built by scripts/native-backend/build_ops.sh against the headers of the TensorFlow wheel the backend's C library
// came from (the ABI flags of tf.sysconfig.get_compile_flags(); -ffp-contract=off).
#pragma once
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"

namespace ssl3d {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::int64;
using tensorflow::shape_inference::InferenceContext;

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// Output 0 has input 0's shape (the shape function of the elementwise ops).
inline absl::Status SameShapeAs0(InferenceContext* c) {
  c->set_output(0, c->input(0));
  return absl::OkStatus();
}

// Rows of a [.., D] tensor and its last dimension; fails the op (InvalidArgument naming the op) unless `gamma` is [D].
inline bool RowsAndDepth(OpKernelContext* ctx, const Tensor& x, const Tensor& gamma, int64* rows, int64* depth) {
  const std::string& op = ctx->op_kernel().type_string();
  if (x.dims() < 1) {
    ctx->CtxFailure(absl::InvalidArgumentError(op + ": x must have at least one dimension"));
    return false;
  }
  *depth = x.dim_size(x.dims() - 1);
  *rows = *depth == 0 ? 0 : x.NumElements() / *depth;
  if (gamma.dims() != 1 || gamma.dim_size(0) != *depth) {
    ctx->CtxFailure(absl::InvalidArgumentError(op + ": gamma must be [" + std::to_string(*depth) + "], got " + gamma.shape().DebugString()));
    return false;
  }
  return true;
}

// work(begin, end) over [0, n) on TensorFlow's CPU thread pool; cost = an estimate per item (elements touched).
inline void ShardRows(OpKernelContext* ctx, int64 n, int64 cost_per_item, const std::function<void(int64, int64)>& work) {
  ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(n, cost_per_item, work);
}

// Fixed blocks of rows for column sums that do not depend on the thread count: 32 blocks or fewer, ≤ 64 rows each.
struct RowBlocks {
  int64 rows, block, count;
  explicit RowBlocks(int64 r) : rows(r), block(std::max<int64>(1, std::min<int64>(64, (r + 31) / 32))), count(r == 0 ? 0 : (r + block - 1) / block) {}
  int64 begin(int64 b) const { return b * block; }
  int64 end(int64 b) const { return std::min(rows, (b + 1) * block); }
};

// out[j] = Σ over blocks b, in order, of partial[b·stride + j] for j < width.
inline void SumBlocks(const float* partial, int64 blocks, int64 stride, int64 width, float* out) {
  std::fill(out, out + width, 0.f);
  for (int64 b = 0; b < blocks; ++b)
    for (int64 j = 0; j < width; ++j) out[j] += partial[b * stride + j];
}

}  // namespace ssl3d
