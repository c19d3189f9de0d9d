// Exact GELU, GELU after a bias add, softmax over the last axis; each with its gradient.
#include "common.h"

using ssl3d::InferenceContext;

REGISTER_OP("Ssl3dGelu").Input("x: float").Output("y: float").SetShapeFn(ssl3d::SameShapeAs0);

REGISTER_OP("Ssl3dGeluGrad").Input("dy: float").Input("x: float").Output("dx: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(1));
  return absl::OkStatus();
});

REGISTER_OP("Ssl3dBiasGelu").Input("x: float").Input("b: float").Output("y: float").SetShapeFn(ssl3d::SameShapeAs0);

REGISTER_OP("Ssl3dBiasGeluGrad").Input("dy: float").Input("x: float").Input("b: float").Output("dx: float").Output("db: float");

REGISTER_OP("Ssl3dSoftmax").Input("x: float").Output("y: float").SetShapeFn(ssl3d::SameShapeAs0);

REGISTER_OP("Ssl3dSoftmaxGrad").Input("dy: float").Input("y: float").Output("dx: float").SetShapeFn([](InferenceContext* c) {
  c->set_output(0, c->input(1));
  return absl::OkStatus();
});

namespace ssl3d {

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
    const RowBlocks blocks(rows);
    std::vector<float> partial(static_cast<size_t>(blocks.count * D), 0.f);
    float* pp = partial.data();
    const float* pdx = dx->flat<float>().data();
    ShardRows(ctx, blocks.count, 2 * D * blocks.block, [=](int64 b0, int64 b1) {
      for (int64 b = b0; b < b1; ++b) {
        float* acc = pp + b * D;
        for (int64 r = blocks.begin(b); r < blocks.end(b); ++r)
          for (int64 j = 0; j < D; ++j) acc[j] += pdx[r * D + j];
      }
    });
    SumBlocks(pp, blocks.count, D, D, db->flat<float>().data());
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

}  // namespace ssl3d

REGISTER_KERNEL_BUILDER(Name("Ssl3dGelu").Device(tensorflow::DEVICE_CPU), ssl3d::GeluOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dGeluGrad").Device(tensorflow::DEVICE_CPU), ssl3d::GeluGradOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dBiasGelu").Device(tensorflow::DEVICE_CPU), ssl3d::BiasGeluOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dBiasGeluGrad").Device(tensorflow::DEVICE_CPU), ssl3d::BiasGeluGradOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dSoftmax").Device(tensorflow::DEVICE_CPU), ssl3d::SoftmaxOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dSoftmaxGrad").Device(tensorflow::DEVICE_CPU), ssl3d::SoftmaxGradOp);
