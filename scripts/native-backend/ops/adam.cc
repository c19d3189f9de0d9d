// Adam/AdamW (PyTorch's update, src/train/optim.ts) of many small parameters whose moments live in one flat vector:
// one op instead of a concat of the parameters and of the gradients, ~11 elementwise ops, a split and a reshape per
// parameter. The float32 operations are those of the op-by-op update, in its order, with the scalars rounded as it
// rounds them (the caller passes them), and the library is built with -ffp-contract=off: bit-identical results.
#include "common.h"

using ssl3d::InferenceContext;

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

namespace ssl3d {

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

}  // namespace ssl3d

REGISTER_KERNEL_BUILDER(Name("Ssl3dAdamGroup").Device(tensorflow::DEVICE_CPU), ssl3d::AdamGroupOp);
