// The time loop of nn.RNN (tanh) for train.kernels=harness on the CPU. bench/kernels.py builds this file
// once with torch.utils.cpp_extension and falls back to the same loop as torch ops when it cannot.
//
// On the CPU nn.RNN has no fused kernel: torch runs an autograd op per time step. Here each step is one
// small matrix product plus tanh (forward) or plus an elementwise loop (backward), with no autograd and no
// Python in between. The input projection, the weight gradients and the gradient of the input are one
// large matrix product each, done by bench/kernels.py. Time-major, contiguous, float32 only.
// (An LSTM loop written the same way was slower than oneDNN's fused LSTM at the lesson's sizes, so the
// LSTM keeps torch's kernel.)

#include <torch/extension.h>

namespace {

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(), name,
              " must be a contiguous float32 CPU tensor");
}

}  // namespace

// out[t] = tanh(z[t] + out[t-1] W_hh^T), in place in z (T, B, H); w_hh_t = W_hh^T (H, H).
at::Tensor rnn_tanh_forward(at::Tensor z, const at::Tensor& w_hh_t) {
  check(z, "z");
  const auto steps = z.size(0);
  z[0].tanh_();
  for (int64_t t = 1; t < steps; ++t) {
    auto row = z[t];
    row.addmm_(z[t - 1], w_hh_t);
    row.tanh_();
  }
  return z;
}

// dL/dz (T, B, H) from dL/dout (T, B, H), the outputs, and W_hh (H, H).
at::Tensor rnn_tanh_backward(const at::Tensor& grad_out, const at::Tensor& out, const at::Tensor& w_hh) {
  check(grad_out, "grad_out");
  check(out, "out");
  const auto steps = out.size(0), n = out[0].numel();
  auto grad_z = at::empty_like(out);
  auto carried = at::zeros_like(out[0]);
  const float* h = out.data_ptr<float>();
  const float* g = grad_out.data_ptr<float>();
  float* dz = grad_z.data_ptr<float>();
  const float* c = carried.data_ptr<float>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t o = t * n;
    for (int64_t k = 0; k < n; ++k) {
      dz[o + k] = (g[o + k] + c[k]) * (1.0f - h[o + k] * h[o + k]);
    }
    if (t > 0) {
      at::mm_out(carried, grad_z[t], w_hh);
    }
  }
  return grad_z;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("rnn_tanh_forward", &rnn_tanh_forward);
  m.def("rnn_tanh_backward", &rnn_tanh_backward);
}
