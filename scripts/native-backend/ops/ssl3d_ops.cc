// ssl3d's fused TensorFlow CPU kernels, loaded into the native backend's TensorFlow (the one inside
// @tensorflow/tfjs-node) as a Node addon: loading the library registers the ops and their CPU kernels in TensorFlow's
// global registries, and TF.js's tfjs-node then runs them by name like any TensorFlow op (src/backend/native_ops.ts).
//
// Why: TensorFlow has no LayerNorm or GELU op, so eager TF.js runs them as chains of elementwise ops: a LayerNorm is
// 9 ops forward and ~13 backward, an exact GELU 5 forward and 11 backward, each a kernel dispatch (~11 µs through
// tfjs-node at least) and a full pass over memory. Here each is one op forward and one backward.
//
//   Ssl3dLayerNorm(x [.., D], gamma [D], beta [D]; epsilon) -> y, mean [rows], rstd [rows]
//   Ssl3dLayerNormGrad(dy, x, mean, rstd, gamma) -> dx, dgamma, dbeta
//   Ssl3dGelu(x) -> x·Φ(x)                        (exact, erf form: PyTorch's approximate='none')
//   Ssl3dGeluGrad(dy, x) -> dy·(Φ(x) + x·φ(x))
//   Ssl3dSplitHeads(x [B·T, N·H·d]; batch B, heads H, N, scale0) -> N × [B·H, T, d] (part 0 times scale0)
//   Ssl3dMergeHeads(N × [B·H, T, d]; batch B, scale0) -> [B·T, N·H·d]   (its inverse; each is the other's gradient)
//   Ssl3dSoftmaxGrad(dy, y) -> y·(dy − Σ dy·y)                              (over the last axis)
//   Ssl3dInstanceNorm(x [B, spatial.., C]; epsilon) -> y, mean [B, C], rstd [B, C]   (no affine; MONAI's 'instance')
//   Ssl3dInstanceNormGrad(dy, x, mean, rstd) -> dx
//   Ssl3dSoftmax(x) -> softmax over the last axis (TensorFlow's Softmax makes several passes)
//   Ssl3dBiasGelu(x [.., D], b [D]) -> GELU(x + b)            (the MLP's first linear layer's bias and activation)
//   Ssl3dBiasGeluGrad(dy, x, b) -> dx, db
//   Ssl3dAdamGroup(N params, N grads, m [total], v [total]; ...) -> N params, m, v
//       Adam/AdamW (PyTorch's update, src/train/optim.ts) of many small parameters whose moments live in one flat
//       vector: one op instead of a concat of the parameters and of the gradients, ~11 elementwise ops, a split and a
//       reshape per parameter. The float32 operations are those of the op-by-op update, in its order (and the
//       library is built with -ffp-contract=off), so the result is bit-identical to it.
//
// The head ops replace attention's reshape/transpose/reshape/unstack (and the score scaling) going in and its
// reshape/transpose/reshape coming out: one copy each way instead of three to five kernels.
// Results do not depend on the number of threads: row statistics are per row, and the column sums of
// Ssl3dLayerNormGrad are summed over fixed blocks of rows, block by block in order.
//
// Built by scripts/native-backend/build_ops.sh against the headers of the TensorFlow wheel the backend's C library
// came from (same ABI flags as tf.sysconfig.get_compile_flags()).
#define EIGEN_USE_THREADS
#include <node_api.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/util/work_sharder.h"

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::int64;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("Ssl3dLayerNorm")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Output("y: float")
    .Output("mean: float")
    .Output("rstd: float")
    .Attr("epsilon: float = 1e-5")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->UnknownShapeOfRank(1));
      c->set_output(2, c->UnknownShapeOfRank(1));
      return absl::OkStatus();
    });

REGISTER_OP("Ssl3dLayerNormGrad")
    .Input("dy: float")
    .Input("x: float")
    .Input("mean: float")
    .Input("rstd: float")
    .Input("gamma: float")
    .Output("dx: float")
    .Output("dgamma: float")
    .Output("dbeta: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(1));
      c->set_output(1, c->input(4));
      c->set_output(2, c->input(4));
      return absl::OkStatus();
    });

REGISTER_OP("Ssl3dGelu").Input("x: float").Output("y: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(0));
  return absl::OkStatus();
});

REGISTER_OP("Ssl3dGeluGrad").Input("dy: float").Input("x: float").Output("dx: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(1));
  return absl::OkStatus();
});

REGISTER_OP("Ssl3dSplitHeads")
    .Input("x: float")
    .Output("parts: N * float")
    .Attr("N: int >= 1")
    .Attr("batch: int >= 1")
    .Attr("heads: int >= 1")
    .Attr("scale0: float = 1.0");

REGISTER_OP("Ssl3dMergeHeads")
    .Input("parts: N * float")
    .Output("y: float")
    .Attr("N: int >= 1")
    .Attr("batch: int >= 1")
    .Attr("scale0: float = 1.0");

REGISTER_OP("Ssl3dSoftmaxGrad").Input("dy: float").Input("y: float").Output("dx: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(1));
  return absl::OkStatus();
});

REGISTER_OP("Ssl3dInstanceNorm")
    .Input("x: float")
    .Output("y: float")
    .Output("mean: float")
    .Output("rstd: float")
    .Attr("epsilon: float = 1e-5");

REGISTER_OP("Ssl3dInstanceNormGrad")
    .Input("dy: float")
    .Input("x: float")
    .Input("mean: float")
    .Input("rstd: float")
    .Output("dx: float");

REGISTER_OP("Ssl3dSoftmax").Input("x: float").Output("y: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(0));
  return absl::OkStatus();
});

REGISTER_OP("Ssl3dBiasGelu").Input("x: float").Input("b: float").Output("y: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(0));
  return absl::OkStatus();
});

REGISTER_OP("Ssl3dBiasGeluGrad").Input("dy: float").Input("x: float").Input("b: float").Output("dx: float").Output("db: float");

REGISTER_OP("Ssl3dAdamGroup")
    .Input("params: N * float")
    .Input("grads: N * float")
    .Input("m: float")
    .Input("v: float")
    .Output("new_params: N * float")
    .Output("new_m: float")
    .Output("new_v: float")
    .Attr("N: int >= 1")
    .Attr("beta1: float")
    .Attr("beta2: float")
    .Attr("one_minus_beta1: float")  // as the caller rounds 1 − β1 (float32 of the double difference)
    .Attr("one_minus_beta2: float")
    .Attr("eps: float")
    .Attr("step_size: float")      // lr / (1 − β1ᵗ)
    .Attr("bc2_sqrt: float")       // √(1 − β2ᵗ)
    .Attr("decay_factor: float = 1.0")  // AdamW: 1 − lr·wd (θ ← θ·factor first); 1 = none
    .Attr("l2: float = 0.0");      // Adam: wd (g ← g + wd·θ); 0 = none

namespace {

// Rows of a [.., D] tensor and its last dimension; fails the op (InvalidArgument naming the op) otherwise.
bool RowsAndDepth(OpKernelContext* ctx, const Tensor& x, const Tensor& gamma, int64* rows, int64* depth) {
  const char* op = ctx->op_kernel().type_string().c_str();
  if (x.dims() < 1) {
    ctx->CtxFailure(absl::InvalidArgumentError(std::string(op) + ": x must have at least one dimension"));
    return false;
  }
  *depth = x.dim_size(x.dims() - 1);
  *rows = *depth == 0 ? 0 : x.NumElements() / *depth;
  if (gamma.dims() != 1 || gamma.dim_size(0) != *depth) {
    ctx->CtxFailure(absl::InvalidArgumentError(std::string(op) + ": gamma must be [" + std::to_string(*depth) + "], got " +
                                               gamma.shape().DebugString()));
    return false;
  }
  return true;
}

void ShardRows(OpKernelContext* ctx, int64 rows, int64 cost_per_row, const std::function<void(int64, int64)>& work) {
  auto* workers = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  workers->ParallelFor(rows, cost_per_row, work);
}

class LayerNormOp : public OpKernel {
 public:
  explicit LayerNormOp(OpKernelConstruction* ctx) : OpKernel(ctx) { OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &eps_)); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& beta = ctx->input(2);
    int64 rows, D;
    if (!RowsAndDepth(ctx, x, gamma, &rows, &D)) return;
    OP_REQUIRES(ctx, beta.shape() == gamma.shape(),
                absl::InvalidArgumentError("Ssl3dLayerNorm: beta must have gamma's shape " + gamma.shape().DebugString()));
    Tensor *y, *mean, *rstd;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({rows}), &mean));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({rows}), &rstd));
    const float* px = x.flat<float>().data();
    const float* pg = gamma.flat<float>().data();
    const float* pb = beta.flat<float>().data();
    float* py = y->flat<float>().data();
    float* pm = mean->flat<float>().data();
    float* pr = rstd->flat<float>().data();
    const float eps = eps_;
    ShardRows(ctx, rows, 8 * D, [=](int64 begin, int64 end) {
      for (int64 r = begin; r < end; ++r) {
        const float* xr = px + r * D;
        float* yr = py + r * D;
        float s = 0.f;
        for (int64 j = 0; j < D; ++j) s += xr[j];
        const float mu = s / static_cast<float>(D);
        float v = 0.f;
        for (int64 j = 0; j < D; ++j) {
          const float d = xr[j] - mu;
          v += d * d;
        }
        const float rs = 1.f / std::sqrt(v / static_cast<float>(D) + eps);
        for (int64 j = 0; j < D; ++j) yr[j] = (xr[j] - mu) * rs * pg[j] + pb[j];
        pm[r] = mu;
        pr[r] = rs;
      }
    });
  }

 private:
  float eps_;
};

class LayerNormGradOp : public OpKernel {
 public:
  explicit LayerNormGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& mean = ctx->input(2);
    const Tensor& rstd = ctx->input(3);
    const Tensor& gamma = ctx->input(4);
    int64 rows, D;
    if (!RowsAndDepth(ctx, x, gamma, &rows, &D)) return;
    OP_REQUIRES(ctx, dy.shape() == x.shape(),
                absl::InvalidArgumentError("Ssl3dLayerNormGrad: dy " + dy.shape().DebugString() + " and x " +
                                           x.shape().DebugString() + " differ"));
    OP_REQUIRES(ctx, mean.NumElements() == rows && rstd.NumElements() == rows,
                absl::InvalidArgumentError("Ssl3dLayerNormGrad: mean and rstd must hold one value per row (" +
                                           std::to_string(rows) + ")"));
    Tensor *dx, *dgamma, *dbeta;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, gamma.shape(), &dgamma));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, gamma.shape(), &dbeta));
    const float* pdy = dy.flat<float>().data();
    const float* px = x.flat<float>().data();
    const float* pm = mean.flat<float>().data();
    const float* pr = rstd.flat<float>().data();
    const float* pg = gamma.flat<float>().data();
    float* pdx = dx->flat<float>().data();

    // column sums per fixed block of rows (independent of the thread count), then summed block by block in order
    const int64 block = std::max<int64>(1, std::min<int64>(64, (rows + 31) / 32));
    const int64 blocks = rows == 0 ? 0 : (rows + block - 1) / block;
    std::vector<float> partial(static_cast<size_t>(2 * blocks * D), 0.f);
    float* pp = partial.data();
    auto work = [=](int64 b0, int64 b1) {
      const float invD = 1.f / static_cast<float>(D);
      for (int64 b = b0; b < b1; ++b) {
        float* sg = pp + (2 * b) * D;      // Σ dy·x̂
        float* sb = pp + (2 * b + 1) * D;  // Σ dy
        const int64 r1 = std::min(rows, (b + 1) * block);
        for (int64 r = b * block; r < r1; ++r) {
          const float* dyr = pdy + r * D;
          const float* xr = px + r * D;
          float* dxr = pdx + r * D;
          const float mu = pm[r], rs = pr[r];
          float a = 0.f, c = 0.f;  // Σ g, Σ g·x̂ with g = dy·gamma
          for (int64 j = 0; j < D; ++j) {
            const float xh = (xr[j] - mu) * rs;
            const float g = dyr[j] * pg[j];
            a += g;
            c += g * xh;
            sg[j] += dyr[j] * xh;
            sb[j] += dyr[j];
          }
          a *= invD;
          c *= invD;
          for (int64 j = 0; j < D; ++j) {
            const float xh = (xr[j] - mu) * rs;
            dxr[j] = rs * (dyr[j] * pg[j] - a - xh * c);
          }
        }
      }
    };
    ShardRows(ctx, blocks, 16 * D * block, work);
    float* pdg = dgamma->flat<float>().data();
    float* pdb = dbeta->flat<float>().data();
    std::fill(pdg, pdg + D, 0.f);
    std::fill(pdb, pdb + D, 0.f);
    for (int64 b = 0; b < blocks; ++b) {
      const float* sg = pp + (2 * b) * D;
      const float* sb = pp + (2 * b + 1) * D;
      for (int64 j = 0; j < D; ++j) {
        pdg[j] += sg[j];
        pdb[j] += sb[j];
      }
    }
  }
};

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

class GeluOp : public OpKernel {
 public:
  explicit GeluOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    auto X = x.flat<float>();
    auto Y = y->flat<float>();
    const auto& d = ctx->eigen_cpu_device();
    Y.device(d) = X * (X * kSqrt1_2).erf() * 0.5f + X * 0.5f;
  }
};

class GeluGradOp : public OpKernel {
 public:
  explicit GeluGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES(ctx, dy.shape() == x.shape(),
                absl::InvalidArgumentError("Ssl3dGeluGrad: dy " + dy.shape().DebugString() + " and x " +
                                           x.shape().DebugString() + " differ"));
    Tensor* dx;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    auto X = x.flat<float>();
    auto DY = dy.flat<float>();
    auto DX = dx->flat<float>();
    const auto& d = ctx->eigen_cpu_device();
    // Φ(x) + x·φ(x) = 0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π)
    DX.device(d) = DY * ((X * kSqrt1_2).erf() * 0.5f + 0.5f + X * (X.square() * -0.5f).exp() * kInvSqrt2Pi);
  }
};

// Token rows r = b·T + t hold N parts of H heads of d values: x[r, (p·H + h)·d + i] <-> part_p[b·H + h, t, i].
struct HeadsLayout {
  int64 B, T, H, d, N;
  int64 rowWidth() const { return N * H * d; }
};

// Copies between the token-row layout and the per-head parts, scaling part 0; toParts selects the direction.
void CopyHeads(OpKernelContext* ctx, const HeadsLayout& L, float scale0, bool toParts, float* rows, const std::vector<float*>& parts) {
  const int64 width = L.rowWidth();
  ShardRows(ctx, L.B * L.T, 2 * width, [&](int64 r0, int64 r1) {
    for (int64 r = r0; r < r1; ++r) {
      const int64 b = r / L.T, t = r % L.T;
      float* row = rows + r * width;
      for (int64 p = 0; p < L.N; ++p) {
        const float s = p == 0 ? scale0 : 1.f;
        for (int64 h = 0; h < L.H; ++h) {
          float* head = parts[p] + ((b * L.H + h) * L.T + t) * L.d;
          float* seg = row + (p * L.H + h) * L.d;
          if (toParts) {
            if (s == 1.f) std::copy(seg, seg + L.d, head);
            else for (int64 i = 0; i < L.d; ++i) head[i] = seg[i] * s;
          } else {
            if (s == 1.f) std::copy(head, head + L.d, seg);
            else for (int64 i = 0; i < L.d; ++i) seg[i] = head[i] * s;
          }
        }
      }
    }
  });
}

class SplitHeadsOp : public OpKernel {
 public:
  explicit SplitHeadsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("N", &n_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("batch", &batch_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("scale0", &scale0_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() == 2 && x.dim_size(0) % batch_ == 0 && x.dim_size(1) % (int64{n_} * heads_) == 0,
                absl::InvalidArgumentError("Ssl3dSplitHeads: x must be [batch·T, N·heads·d] with batch " + std::to_string(batch_) +
                                           ", N " + std::to_string(n_) + ", heads " + std::to_string(heads_) + "; got " +
                                           x.shape().DebugString()));
    HeadsLayout L{batch_, x.dim_size(0) / batch_, heads_, x.dim_size(1) / (int64{n_} * heads_), n_};
    std::vector<float*> parts(n_);
    for (int p = 0; p < n_; ++p) {
      Tensor* out;
      OP_REQUIRES_OK(ctx, ctx->allocate_output(p, TensorShape({L.B * L.H, L.T, L.d}), &out));
      parts[p] = out->flat<float>().data();
    }
    CopyHeads(ctx, L, scale0_, true, const_cast<float*>(x.flat<float>().data()), parts);
  }

 private:
  int n_, batch_, heads_;
  float scale0_;
};

class MergeHeadsOp : public OpKernel {
 public:
  explicit MergeHeadsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("N", &n_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("batch", &batch_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("scale0", &scale0_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& p0 = ctx->input(0);
    OP_REQUIRES(ctx, p0.dims() == 3 && p0.dim_size(0) % batch_ == 0,
                absl::InvalidArgumentError("Ssl3dMergeHeads: parts must be [batch·heads, T, d] with batch " + std::to_string(batch_) +
                                           "; got " + p0.shape().DebugString()));
    std::vector<float*> parts(n_);
    for (int p = 0; p < n_; ++p) {
      OP_REQUIRES(ctx, ctx->input(p).shape() == p0.shape(),
                  absl::InvalidArgumentError("Ssl3dMergeHeads: part " + std::to_string(p) + " is " + ctx->input(p).shape().DebugString() +
                                             ", part 0 " + p0.shape().DebugString()));
      parts[p] = const_cast<float*>(ctx->input(p).flat<float>().data());
    }
    HeadsLayout L{batch_, p0.dim_size(1), p0.dim_size(0) / batch_, p0.dim_size(2), n_};
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({L.B * L.T, L.rowWidth()}), &y));
    CopyHeads(ctx, L, scale0_, false, y->flat<float>().data(), parts);
  }

 private:
  int n_, batch_;
  float scale0_;
};

class SoftmaxGradOp : public OpKernel {
 public:
  explicit SoftmaxGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& y = ctx->input(1);
    OP_REQUIRES(ctx, dy.shape() == y.shape() && y.dims() >= 1,
                absl::InvalidArgumentError("Ssl3dSoftmaxGrad: dy " + dy.shape().DebugString() + " and y " + y.shape().DebugString() +
                                           " must have one shape of rank >= 1"));
    Tensor* dx;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, y.shape(), &dx));
    const int64 D = y.dim_size(y.dims() - 1);
    const int64 rows = D == 0 ? 0 : y.NumElements() / D;
    const float* pdy = dy.flat<float>().data();
    const float* py = y.flat<float>().data();
    float* pdx = dx->flat<float>().data();
    ShardRows(ctx, rows, 4 * D, [=](int64 r0, int64 r1) {
      for (int64 r = r0; r < r1; ++r) {
        const float* a = pdy + r * D;
        const float* b = py + r * D;
        float* o = pdx + r * D;
        float s = 0.f;
        for (int64 j = 0; j < D; ++j) s += a[j] * b[j];
        for (int64 j = 0; j < D; ++j) o[j] = b[j] * (a[j] - s);
      }
    });
  }
};

// Instance norm over [B, S, C] (S = the spatial voxels, channels last): statistics per (b, c). Work is split into
// fixed chunks of voxels (independent of the thread count); per-chunk sums in double are added in chunk order.
constexpr int64 kChunkVoxels = 2048;

struct InstanceLayout {
  int64 B, S, C, chunks;
};

bool InstanceShape(OpKernelContext* ctx, const Tensor& x, InstanceLayout* L) {
  const std::string op = ctx->op_kernel().type_string();
  if (x.dims() < 3) {
    ctx->CtxFailure(absl::InvalidArgumentError(op + ": x must be [B, spatial..., C] (rank >= 3), got " + x.shape().DebugString()));
    return false;
  }
  L->B = x.dim_size(0);
  L->C = x.dim_size(x.dims() - 1);
  L->S = L->B * L->C == 0 ? 0 : x.NumElements() / (L->B * L->C);
  L->chunks = (L->S + kChunkVoxels - 1) / kChunkVoxels;
  return true;
}

// For each (b, chunk): sums over the chunk's voxels of f(b, voxel pointer offset) per channel into out[(b·chunks + k)·2C ..].
template <typename F>
void ChunkSums(OpKernelContext* ctx, const InstanceLayout& L, std::vector<double>* out, F f) {
  out->assign(static_cast<size_t>(L.B * L.chunks * 2 * L.C), 0.0);
  double* po = out->data();
  ShardRows(ctx, L.B * L.chunks, 4 * kChunkVoxels * L.C, [&](int64 w0, int64 w1) {
    std::vector<double> a(L.C), q(L.C);
    for (int64 w = w0; w < w1; ++w) {
      const int64 b = w / L.chunks, k = w % L.chunks;
      const int64 v0 = k * kChunkVoxels, v1 = std::min(L.S, v0 + kChunkVoxels);
      std::fill(a.begin(), a.end(), 0.0);
      std::fill(q.begin(), q.end(), 0.0);
      for (int64 v = v0; v < v1; ++v) f(b, (b * L.S + v) * L.C, a.data(), q.data());
      std::copy(a.begin(), a.end(), po + w * 2 * L.C);
      std::copy(q.begin(), q.end(), po + w * 2 * L.C + L.C);
    }
  });
}

// Per (b, c): the two sums over all chunks, in chunk order.
void ReduceChunks(const InstanceLayout& L, const std::vector<double>& partial, std::vector<double>* s1, std::vector<double>* s2) {
  s1->assign(static_cast<size_t>(L.B * L.C), 0.0);
  s2->assign(static_cast<size_t>(L.B * L.C), 0.0);
  for (int64 b = 0; b < L.B; ++b)
    for (int64 k = 0; k < L.chunks; ++k) {
      const double* p = partial.data() + (b * L.chunks + k) * 2 * L.C;
      for (int64 c = 0; c < L.C; ++c) {
        (*s1)[b * L.C + c] += p[c];
        (*s2)[b * L.C + c] += p[L.C + c];
      }
    }
}

// out[(b·S + v)·C + c] = g(b, c, index) for every voxel, sharded by (b, chunk).
template <typename G>
void ChunkMap(OpKernelContext* ctx, const InstanceLayout& L, G g) {
  ShardRows(ctx, L.B * L.chunks, 3 * kChunkVoxels * L.C, [&](int64 w0, int64 w1) {
    for (int64 w = w0; w < w1; ++w) {
      const int64 b = w / L.chunks, k = w % L.chunks;
      const int64 v0 = k * kChunkVoxels, v1 = std::min(L.S, v0 + kChunkVoxels);
      for (int64 v = v0; v < v1; ++v) g(b, (b * L.S + v) * L.C);
    }
  });
}

class InstanceNormOp : public OpKernel {
 public:
  explicit InstanceNormOp(OpKernelConstruction* ctx) : OpKernel(ctx) { OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &eps_)); }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    InstanceLayout L;
    if (!InstanceShape(ctx, x, &L)) return;
    Tensor *y, *mean, *rstd;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({L.B, L.C}), &mean));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({L.B, L.C}), &rstd));
    const float* px = x.flat<float>().data();
    float* py = y->flat<float>().data();
    float* pm = mean->flat<float>().data();
    float* pr = rstd->flat<float>().data();
    const int64 C = L.C;
    std::vector<double> partial, s1, s2;
    ChunkSums(ctx, L, &partial, [=](int64, int64 off, double* a, double* q) {
      const float* xv = px + off;
      for (int64 c = 0; c < C; ++c) {
        const double t = xv[c];
        a[c] += t;
        q[c] += t * t;
      }
    });
    ReduceChunks(L, partial, &s1, &s2);
    for (int64 i = 0; i < L.B * C; ++i) {
      const double m = L.S ? s1[i] / L.S : 0.0;
      const double var = L.S ? std::max(0.0, s2[i] / L.S - m * m) : 0.0;
      pm[i] = static_cast<float>(m);
      pr[i] = static_cast<float>(1.0 / std::sqrt(var + eps_));
    }
    ChunkMap(ctx, L, [=](int64 b, int64 off) {
      const float* m = pm + b * C;
      const float* r = pr + b * C;
      for (int64 c = 0; c < C; ++c) py[off + c] = (px[off + c] - m[c]) * r[c];
    });
  }

 private:
  float eps_;
};

class InstanceNormGradOp : public OpKernel {
 public:
  explicit InstanceNormGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& mean = ctx->input(2);
    const Tensor& rstd = ctx->input(3);
    InstanceLayout L;
    if (!InstanceShape(ctx, x, &L)) return;
    OP_REQUIRES(ctx, dy.shape() == x.shape(),
                absl::InvalidArgumentError("Ssl3dInstanceNormGrad: dy " + dy.shape().DebugString() + " and x " + x.shape().DebugString() + " differ"));
    OP_REQUIRES(ctx, mean.NumElements() == L.B * L.C && rstd.NumElements() == L.B * L.C,
                absl::InvalidArgumentError("Ssl3dInstanceNormGrad: mean and rstd must be [B, C] = [" + std::to_string(L.B) + ", " +
                                           std::to_string(L.C) + "]"));
    Tensor* dx;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    const float* pdy = dy.flat<float>().data();
    const float* px = x.flat<float>().data();
    const float* pm = mean.flat<float>().data();
    const float* pr = rstd.flat<float>().data();
    float* pdx = dx->flat<float>().data();
    const int64 C = L.C;
    std::vector<double> partial, s1, s2;
    ChunkSums(ctx, L, &partial, [=](int64 b, int64 off, double* a, double* q) {
      const float* m = pm + b * C;
      const float* r = pr + b * C;
      for (int64 c = 0; c < C; ++c) {
        const float g = pdy[off + c];
        a[c] += g;
        q[c] += static_cast<double>(g * ((px[off + c] - m[c]) * r[c]));
      }
    });
    ReduceChunks(L, partial, &s1, &s2);
    std::vector<float> ma(L.B * C), mq(L.B * C);  // mean(dy), mean(dy·x̂)
    for (int64 i = 0; i < L.B * C; ++i) {
      ma[i] = L.S ? static_cast<float>(s1[i] / L.S) : 0.f;
      mq[i] = L.S ? static_cast<float>(s2[i] / L.S) : 0.f;
    }
    const float* pa = ma.data();
    const float* pq = mq.data();
    ChunkMap(ctx, L, [=](int64 b, int64 off) {
      const float* m = pm + b * C;
      const float* r = pr + b * C;
      const float* a = pa + b * C;
      const float* q = pq + b * C;
      for (int64 c = 0; c < C; ++c) {
        const float xh = (px[off + c] - m[c]) * r[c];
        pdx[off + c] = r[c] * (pdy[off + c] - a[c] - xh * q[c]);
      }
    });
  }
};

class SoftmaxOp : public OpKernel {
 public:
  explicit SoftmaxOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() >= 1, absl::InvalidArgumentError("Ssl3dSoftmax: x must have rank >= 1, got " + x.shape().DebugString()));
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    const int64 D = x.dim_size(x.dims() - 1);
    const int64 rows = D == 0 ? 0 : x.NumElements() / D;
    const float* px = x.flat<float>().data();
    float* py = y->flat<float>().data();
    ShardRows(ctx, rows, 12 * D, [=](int64 r0, int64 r1) {
      for (int64 r = r0; r < r1; ++r) {
        Eigen::Map<const Eigen::ArrayXf> xr(px + r * D, D);
        Eigen::Map<Eigen::ArrayXf> yr(py + r * D, D);
        const float m = xr.maxCoeff();
        yr = (xr - m).exp();  // Eigen's vectorised exp
        yr *= 1.f / yr.sum();
      }
    });
  }
};

// x [rows, D] as a 2-D map and b broadcast over its rows
struct BiasRows {
  Eigen::TensorMap<Eigen::Tensor<const float, 2, Eigen::RowMajor>> x;
  Eigen::TensorMap<Eigen::Tensor<const float, 2, Eigen::RowMajor>> b;
  int64 rows, D;
  auto z() const { return x + b.broadcast(Eigen::array<Eigen::Index, 2>{rows, 1}); }
};

bool MakeBiasRows(OpKernelContext* ctx, const Tensor& x, const Tensor& b, BiasRows** out, std::unique_ptr<BiasRows>* keep) {
  const std::string op = ctx->op_kernel().type_string();
  if (x.dims() < 1 || b.dims() != 1 || b.dim_size(0) != x.dim_size(x.dims() - 1)) {
    ctx->CtxFailure(absl::InvalidArgumentError(op + ": b must be [D] for x [.., D]; got x " + x.shape().DebugString() + ", b " + b.shape().DebugString()));
    return false;
  }
  const int64 D = b.dim_size(0);
  const int64 rows = D == 0 ? 0 : x.NumElements() / D;
  keep->reset(new BiasRows{{x.flat<float>().data(), rows, D}, {b.flat<float>().data(), 1, D}, rows, D});
  *out = keep->get();
  return true;
}

class BiasGeluOp : public OpKernel {
 public:
  explicit BiasGeluOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    BiasRows* t;
    std::unique_ptr<BiasRows> keep;
    if (!MakeBiasRows(ctx, ctx->input(0), ctx->input(1), &t, &keep)) return;
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(0).shape(), &y));
    Eigen::TensorMap<Eigen::Tensor<float, 2, Eigen::RowMajor>> Y(y->flat<float>().data(), t->rows, t->D);
    const auto& d = ctx->eigen_cpu_device();
    const auto z = t->z();
    Y.device(d) = z * (z * kSqrt1_2).erf() * 0.5f + z * 0.5f;
  }
};

class BiasGeluGradOp : public OpKernel {
 public:
  explicit BiasGeluGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    BiasRows* t;
    std::unique_ptr<BiasRows> keep;
    if (!MakeBiasRows(ctx, ctx->input(1), ctx->input(2), &t, &keep)) return;
    OP_REQUIRES(ctx, dy.shape() == ctx->input(1).shape(),
                absl::InvalidArgumentError("Ssl3dBiasGeluGrad: dy " + dy.shape().DebugString() + " and x " + ctx->input(1).shape().DebugString() + " differ"));
    Tensor *dx, *db;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, dy.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, ctx->input(2).shape(), &db));
    const int64 rows = t->rows, D = t->D;
    Eigen::TensorMap<Eigen::Tensor<const float, 2, Eigen::RowMajor>> DY(dy.flat<float>().data(), rows, D);
    Eigen::TensorMap<Eigen::Tensor<float, 2, Eigen::RowMajor>> DX(dx->flat<float>().data(), rows, D);
    const auto& d = ctx->eigen_cpu_device();
    const auto z = t->z();
    DX.device(d) = DY * ((z * kSqrt1_2).erf() * 0.5f + 0.5f + z * (z.square() * -0.5f).exp() * kInvSqrt2Pi);
    // db = column sums of dx, over fixed blocks of rows added in order (independent of the thread count)
    const int64 block = std::max<int64>(1, std::min<int64>(64, (rows + 31) / 32));
    const int64 blocks = rows == 0 ? 0 : (rows + block - 1) / block;
    std::vector<float> partial(static_cast<size_t>(blocks * D), 0.f);
    float* pp = partial.data();
    const float* pdx = dx->flat<float>().data();
    ShardRows(ctx, blocks, 2 * D * block, [=](int64 b0, int64 b1) {
      for (int64 b = b0; b < b1; ++b) {
        float* acc = pp + b * D;
        for (int64 r = b * block; r < std::min(rows, (b + 1) * block); ++r)
          for (int64 j = 0; j < D; ++j) acc[j] += pdx[r * D + j];
      }
    });
    float* pdb = db->flat<float>().data();
    std::fill(pdb, pdb + D, 0.f);
    for (int64 b = 0; b < blocks; ++b)
      for (int64 j = 0; j < D; ++j) pdb[j] += pp[b * D + j];
  }
};

class AdamGroupOp : public OpKernel {
 public:
  explicit AdamGroupOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("N", &n_));
    for (const char* a : {"beta1", "beta2", "one_minus_beta1", "one_minus_beta2", "eps", "step_size", "bc2_sqrt", "decay_factor", "l2"}) {
      float v;
      OP_REQUIRES_OK(ctx, ctx->GetAttr(a, &v));
      h_.push_back(v);
    }
  }
  void Compute(OpKernelContext* ctx) override {
    const int n = n_;
    std::vector<int64> offset(n + 1, 0);
    for (int i = 0; i < n; ++i) {
      OP_REQUIRES(ctx, ctx->input(n + i).shape() == ctx->input(i).shape(),
                  absl::InvalidArgumentError("Ssl3dAdamGroup: gradient " + std::to_string(i) + " is " + ctx->input(n + i).shape().DebugString() +
                                             ", its parameter " + ctx->input(i).shape().DebugString()));
      offset[i + 1] = offset[i] + ctx->input(i).NumElements();
    }
    const int64 total = offset[n];
    const Tensor& m0 = ctx->input(2 * n);
    const Tensor& v0 = ctx->input(2 * n + 1);
    OP_REQUIRES(ctx, m0.NumElements() == total && v0.NumElements() == total,
                absl::InvalidArgumentError("Ssl3dAdamGroup: m and v must hold the " + std::to_string(total) + " elements of the parameters, got " +
                                           m0.shape().DebugString() + " and " + v0.shape().DebugString()));
    std::vector<const float*> p(n), g(n);
    std::vector<float*> out(n);
    for (int i = 0; i < n; ++i) {
      Tensor* o;
      OP_REQUIRES_OK(ctx, ctx->allocate_output(i, ctx->input(i).shape(), &o));
      p[i] = ctx->input(i).flat<float>().data();
      g[i] = ctx->input(n + i).flat<float>().data();
      out[i] = o->flat<float>().data();
    }
    Tensor *m, *v;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(n, m0.shape(), &m));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(n + 1, v0.shape(), &v));
    const float* pm0 = m0.flat<float>().data();
    const float* pv0 = v0.flat<float>().data();
    float* pm = m->flat<float>().data();
    float* pv = v->flat<float>().data();
    const float b1 = h_[0], b2 = h_[1], omb1 = h_[2], omb2 = h_[3], eps = h_[4], stepSize = h_[5], bc2Sqrt = h_[6], decay = h_[7], l2 = h_[8];
    ShardRows(ctx, total, 30, [&](int64 e0, int64 e1) {
      int i = static_cast<int>(std::upper_bound(offset.begin(), offset.end(), e0) - offset.begin()) - 1;
      for (int64 e = e0; e < e1; ++i) {
        const int64 end = std::min(e1, offset[i + 1]);
        const float* pi = p[i] - offset[i];
        const float* gi = g[i] - offset[i];
        float* oi = out[i] - offset[i];
        for (; e < end; ++e) {
          float theta = pi[e];
          float grad = gi[e];
          if (decay != 1.f) theta = theta * decay;
          if (l2 != 0.f) grad = grad + pi[e] * l2;
          const float mm = pm0[e] * b1 + grad * omb1;
          const float vv = pv0[e] * b2 + (grad * grad) * omb2;
          const float denom = std::sqrt(vv) / bc2Sqrt + eps;
          oi[e] = theta - (mm / denom) * stepSize;
          pm[e] = mm;
          pv[e] = vv;
        }
      }
    });
  }

 private:
  int n_;
  std::vector<float> h_;
};

}  // namespace

REGISTER_KERNEL_BUILDER(Name("Ssl3dLayerNorm").Device(tensorflow::DEVICE_CPU), LayerNormOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dLayerNormGrad").Device(tensorflow::DEVICE_CPU), LayerNormGradOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dGelu").Device(tensorflow::DEVICE_CPU), GeluOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dGeluGrad").Device(tensorflow::DEVICE_CPU), GeluGradOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dSplitHeads").Device(tensorflow::DEVICE_CPU), SplitHeadsOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dMergeHeads").Device(tensorflow::DEVICE_CPU), MergeHeadsOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dSoftmaxGrad").Device(tensorflow::DEVICE_CPU), SoftmaxGradOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dInstanceNorm").Device(tensorflow::DEVICE_CPU), InstanceNormOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dInstanceNormGrad").Device(tensorflow::DEVICE_CPU), InstanceNormGradOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dAdamGroup").Device(tensorflow::DEVICE_CPU), AdamGroupOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dSoftmax").Device(tensorflow::DEVICE_CPU), SoftmaxOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dBiasGelu").Device(tensorflow::DEVICE_CPU), BiasGeluOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dBiasGeluGrad").Device(tensorflow::DEVICE_CPU), BiasGeluGradOp);

// The Node addon: nothing to export; loading it has registered the ops above. `opNames` lets the loader check.
NAPI_MODULE_INIT() {
  napi_value names;
  napi_create_array(env, &names);
  const char* ops[] = {"Ssl3dLayerNorm", "Ssl3dLayerNormGrad", "Ssl3dGelu", "Ssl3dGeluGrad", "Ssl3dSplitHeads", "Ssl3dMergeHeads", "Ssl3dSoftmaxGrad", "Ssl3dInstanceNorm", "Ssl3dInstanceNormGrad", "Ssl3dAdamGroup", "Ssl3dSoftmax", "Ssl3dBiasGelu", "Ssl3dBiasGeluGrad"};
  for (uint32_t i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i) {
    napi_value s;
    napi_create_string_utf8(env, ops[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, names, i, s);
  }
  napi_set_named_property(env, exports, "opNames", names);
  return exports;
}
