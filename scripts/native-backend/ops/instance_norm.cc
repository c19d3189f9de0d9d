// Instance norm without affine (MONAI's norm_name='instance') of a whole batch [B, spatial.., C].
#include "common.h"

using ssl3d::InferenceContext;

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

namespace ssl3d {

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

}  // namespace ssl3d

REGISTER_KERNEL_BUILDER(Name("Ssl3dInstanceNorm").Device(tensorflow::DEVICE_CPU), ssl3d::InstanceNormOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dInstanceNormGrad").Device(tensorflow::DEVICE_CPU), ssl3d::InstanceNormGradOp);
