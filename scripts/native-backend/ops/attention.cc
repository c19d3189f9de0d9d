// Attention's moves between token rows and heads (the 1/√d scale on q).
#include "common.h"

using ssl3d::InferenceContext;

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

namespace ssl3d {

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

}  // namespace ssl3d

REGISTER_KERNEL_BUILDER(Name("Ssl3dSplitHeads").Device(tensorflow::DEVICE_CPU), ssl3d::SplitHeadsOp);
REGISTER_KERNEL_BUILDER(Name("Ssl3dMergeHeads").Device(tensorflow::DEVICE_CPU), ssl3d::MergeHeadsOp);
