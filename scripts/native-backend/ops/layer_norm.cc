// LayerNorm over the last axis with its affine (PyTorch's nn.LayerNorm), forward and backward.
#include "common.h"

using ssl3d::InferenceContext;

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

namespace ssl3d {

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
    const RowBlocks blocks(rows);
    std::vector<float> partial(static_cast<size_t>(2 * blocks.count * D), 0.f);
    float* pp = partial.data();
    auto work = [=](int64 b0, int64 b1) {
      const float invD = 1.f / static_cast<float>(D);
      for (int64 b = b0; b < b1; ++b) {
        float* sg = pp + (2 * b) * D;      // Σ dy·x̂
        float* sb = pp + (2 * b + 1) * D;  // Σ dy
        for (int64 r = blocks.begin(b); r < blocks.end(b); ++r) {
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
    ShardRows(ctx, blocks.count, 16 * D * blocks.block, work);
    SumBlocks(pp, blocks.count, 2 * D, D, dgamma->flat<float>().data());
    SumBlocks(pp + D, blocks.count, 2 * D, D, dbeta->flat<float>().data());
  }
};

}  // namespace ssl3d

REGISTER_KERNEL_BUILDER(Name("Ssl3dLayerNorm").Device(tensorflow::DEVICE_CPU), ssl3d::LayerNormOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dLayerNormGrad").Device(tensorflow::DEVICE_CPU), ssl3d::LayerNormGradOp);
