// The time loops of nn.RNN (tanh) and nn.GRU for train.kernels=harness on the CPU. bench/kernels.py builds this file
// once with torch.utils.cpp_extension and falls back to the same loop as torch ops when it cannot.
//
// On the CPU nn.RNN has no fused kernel: torch runs an autograd op per time step. Here each step is one
// small matrix product plus tanh (forward) or plus an elementwise loop (backward), with no autograd and no
// Python in between. The input projection, the weight gradients and the gradient of the input are one
// large matrix product each, done by bench/kernels.py. Time-major, contiguous, float32 only.
// nn.GRU has no fused CPU kernel either: its loop is here too. (An LSTM loop written the same way was slower
// than oneDNN's fused LSTM at the lesson's sizes, so the LSTM keeps torch's kernel.)

#include <torch/extension.h>

#include <vector>

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

// nn.GRU from a zero state (gate order r, z, n, as PyTorch's). xp (T, B, 3H) = x_t W_ih^T + b_ih, overwritten with
// the activated gates (r, z, n); w_hh_t = W_hh^T (H, 3H). Returns {gates, hp (T, B, 3H) = h_{t-1} W_hh^T + b_hh,
// out (T, B, H)}:  r = s(xp_r + hp_r), z = s(xp_z + hp_z), n = tanh(xp_n + r * hp_n), h = n + z * (h_{t-1} - n).
std::vector<at::Tensor> gru_forward(at::Tensor gates, const at::Tensor& w_hh_t, const at::Tensor& b_hh) {
  check(gates, "gates");
  const auto steps = gates.size(0), batch = gates.size(1), hidden = gates.size(2) / 3;
  auto hp = at::empty_like(gates);
  auto out = at::empty({steps, batch, hidden}, gates.options());
  auto zero = at::zeros({batch, hidden}, gates.options());
  const float* gp = gates.data_ptr<float>();
  float* op = out.data_ptr<float>();
  for (int64_t t = 0; t < steps; ++t) {
    auto g = gates[t];
    auto h_t = hp[t];
    at::addmm_out(h_t, b_hh, t > 0 ? out[t - 1] : zero, w_hh_t);
    g.narrow(1, 0, 2 * hidden).add_(h_t.narrow(1, 0, 2 * hidden)).sigmoid_();
    g.narrow(1, 2 * hidden, hidden).addcmul_(g.narrow(1, 0, hidden), h_t.narrow(1, 2 * hidden, hidden)).tanh_();
    const float* a = gp + t * batch * 3 * hidden;
    float* h = op + t * batch * hidden;
    const float* prev = t > 0 ? h - batch * hidden : nullptr;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t k = 0; k < hidden; ++k) {
        const float z = a[b * 3 * hidden + hidden + k], n = a[b * 3 * hidden + 2 * hidden + k];
        h[b * hidden + k] = n + z * ((prev ? prev[b * hidden + k] : 0.0f) - n);
      }
    }
  }
  return {gates, hp, out};
}

// From dL/dout (T, B, H): {dL/dxp (T, B, 3H), dL/dhp (T, B, 3H)}; they differ in the n block only (r * ...).
std::vector<at::Tensor> gru_backward(const at::Tensor& grad_out, const at::Tensor& gates, const at::Tensor& hp,
                                     const at::Tensor& out, const at::Tensor& w_hh) {
  check(grad_out, "grad_out");
  check(gates, "gates");
  check(hp, "hp");
  check(out, "out");
  const auto steps = gates.size(0), batch = gates.size(1), hidden = gates.size(2) / 3;
  auto grad_xp = at::empty_like(gates);
  auto grad_hp = at::empty_like(gates);
  auto carried = at::zeros({batch, hidden}, gates.options());
  auto direct = at::empty_like(carried);
  const float* gp = gates.data_ptr<float>();
  const float* hpp = hp.data_ptr<float>();
  const float* op = out.data_ptr<float>();
  const float* dy = grad_out.data_ptr<float>();
  const float* cp = carried.data_ptr<float>();
  float* dp = direct.data_ptr<float>();
  float* dx = grad_xp.data_ptr<float>();
  float* dh_ = grad_hp.data_ptr<float>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = (t * batch + b) * hidden, gate_row = (t * batch + b) * 3 * hidden;
      for (int64_t k = 0; k < hidden; ++k) {
        const float r = gp[gate_row + k], z = gp[gate_row + hidden + k], n = gp[gate_row + 2 * hidden + k];
        const float prev = t > 0 ? op[row - batch * hidden + k] : 0.0f;
        const float dh = dy[row + k] + cp[b * hidden + k];
        const float dn = dh * (1.0f - z) * (1.0f - n * n);
        const float dz = dh * (prev - n) * z * (1.0f - z);
        const float dr = dn * hpp[gate_row + 2 * hidden + k] * r * (1.0f - r);
        dx[gate_row + k] = dr;
        dx[gate_row + hidden + k] = dz;
        dx[gate_row + 2 * hidden + k] = dn;
        dh_[gate_row + k] = dr;
        dh_[gate_row + hidden + k] = dz;
        dh_[gate_row + 2 * hidden + k] = dn * r;
        dp[b * hidden + k] = dh * z;
      }
    }
    at::addmm_out(carried, direct, grad_hp[t], w_hh);
  }
  return {grad_xp, grad_hp};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("rnn_tanh_forward", &rnn_tanh_forward);
  m.def("rnn_tanh_backward", &rnn_tanh_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
}
