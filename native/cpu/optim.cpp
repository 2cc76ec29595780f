// Multi-tensor AdamW, SGD and EMA (CPU reference).
#include "cpu_common.hpp"

using namespace hrda_cpu;

extern "C" {

int hrda_cpu_adamw_step(int dtype, int n_tensors, void* const* params, void* const* grads,
                        void* const* exp_avg, void* const* exp_avg_sq, const long* sizes,
                        const float* lr, const float* weight_decay, float beta1, float beta2, float eps, long step) {
  HRDA_CHECK(n_tensors >= 0, "adamw_step: n_tensors %d", n_tensors);
  HRDA_CHECK(step >= 1, "adamw_step: step %ld must count from 1", step);
  HRDA_CHECK(n_tensors == 0 || (params && grads && exp_avg && exp_avg_sq && sizes && lr && weight_decay), "adamw_step: NULL table");
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step), bc2 = 1.0 - std::pow((double)beta2, (double)step);
  HRDA_DISPATCH_FLOAT(dtype,
    for (int t = 0; t < n_tensors; t++) {
      HRDA_CHECK(params[t] && grads[t] && exp_avg[t] && exp_avg_sq[t], "adamw_step: tensor %d has a NULL pointer", t);
      T* p = (T*)params[t]; const T* g = (const T*)grads[t]; T* m = (T*)exp_avg[t]; T* v = (T*)exp_avg_sq[t];
      const double a = lr[t], wd = weight_decay[t]; const long n = sizes[t];
      _Pragma("omp parallel for schedule(static) if (n > 32768)")
      for (long i = 0; i < n; i++) {
        double pi = (double)p[i] * (1.0 - a * wd);
        const double mi = beta1 * (double)m[i] + (1.0 - beta1) * (double)g[i];
        const double vi = beta2 * (double)v[i] + (1.0 - beta2) * (double)g[i] * (double)g[i];
        pi -= a * (mi / bc1) / (std::sqrt(vi / bc2) + eps);
        p[i] = (T)pi; m[i] = (T)mi; v[i] = (T)vi;
      }
    })
  return HRDA_OK;
}

int hrda_cpu_sgd_step(int dtype, int n_tensors, void* const* params, void* const* grads, void* const* momentum_buffer,
                      const long* sizes, const double* lr, const double* weight_decay, double momentum, double dampening,
                      int nesterov, int first_step) {
  HRDA_CHECK(n_tensors >= 0, "sgd_step: n_tensors %d", n_tensors);
  HRDA_CHECK(n_tensors == 0 || (params && grads && sizes && lr && weight_decay), "sgd_step: NULL table");
  HRDA_CHECK(momentum == 0 || momentum_buffer || n_tensors == 0, "sgd_step: momentum %g needs the momentum_buffer table",
             momentum);
  HRDA_CHECK(!nesterov || (momentum > 0 && dampening == 0), "sgd_step: Nesterov momentum requires a momentum and zero "
             "dampening (torch.optim.SGD), got momentum %g, dampening %g", momentum, dampening);
  HRDA_DISPATCH_FLOAT(dtype,
    for (int t = 0; t < n_tensors; t++) {
      HRDA_CHECK(params[t] && grads[t] && (momentum == 0 || momentum_buffer[t]), "sgd_step: tensor %d has a NULL pointer", t);
      T* p = (T*)params[t]; const T* g = (const T*)grads[t]; T* buf = momentum == 0 ? nullptr : (T*)momentum_buffer[t];
      const double a = lr[t], wd = weight_decay[t]; const long n = sizes[t];
      _Pragma("omp parallel for schedule(static) if (n > 32768)")
      for (long i = 0; i < n; i++) {
        double d = (double)g[i] + wd * (double)p[i];
        if (buf) {
          const double b = first_step ? d : momentum * (double)buf[i] + (1.0 - dampening) * d;
          buf[i] = (T)b;
          d = nesterov ? d + momentum * b : b;
        }
        p[i] = (T)((double)p[i] - a * d);
      }
    })
  return HRDA_OK;
}

int hrda_cpu_ema_update(int dtype, int n_tensors, void* const* ema, void* const* params, const long* sizes, float alpha) {
  HRDA_CHECK(n_tensors >= 0, "ema_update: n_tensors %d", n_tensors);
  HRDA_CHECK(n_tensors == 0 || (ema && params && sizes), "ema_update: NULL table");
  HRDA_CHECK(alpha >= 0.f && alpha <= 1.f, "ema_update: alpha %g outside [0, 1]", (double)alpha);
  HRDA_DISPATCH_FLOAT(dtype,
    for (int t = 0; t < n_tensors; t++) {
      HRDA_CHECK(ema[t] && params[t], "ema_update: tensor %d has a NULL pointer", t);
      T* e = (T*)ema[t]; const T* p = (const T*)params[t]; const long n = sizes[t];
      _Pragma("omp parallel for schedule(static) if (n > 32768)")
      for (long i = 0; i < n; i++) e[i] = (T)(alpha * (double)e[i] + (1.0 - (double)alpha) * (double)p[i]);
    })
  return HRDA_OK;
}

}  // extern "C"
