/* Multi-tensor optimizer updates: one call updates a whole parameter list.
 * Pointer tables and per-tensor sizes/lr/wd live in host memory. */
#ifndef HRDA_OPTIM_H
#define HRDA_OPTIM_H
#include "common.h"

/* AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias-corrected moments):
 *   p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *   p -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps)
 * with lr[t], wd[t] per tensor (group multipliers already applied). step counts from 1. */
HRDA_OP(adamw_step, int dtype, int n_tensors, void* const* params, void* const* grads,
        void* const* exp_avg, void* const* exp_avg_sq, const long* sizes,
        const float* lr, const float* weight_decay, float beta1, float beta2, float eps, long step)
/* SGD with momentum exactly as torch.optim.SGD (maximize off), RIPU's optimiser:
 *   d = g + wd*p;  buf = d at the first step (first_step = 1), else momentum*buf + (1-dampening)*d;
 *   d = nesterov ? d + momentum*buf : buf;  p -= lr*d
 * with lr[t], wd[t] per tensor (f64: group multipliers already applied). momentum = 0 skips the
 * buffers (momentum_buffer may then be NULL) and updates p -= lr*d. */
HRDA_OP(sgd_step, int dtype, int n_tensors, void* const* params, void* const* grads, void* const* momentum_buffer,
        const long* sizes, const double* lr, const double* weight_decay, double momentum, double dampening,
        int nesterov, int first_step)
/* ema = alpha*ema + (1-alpha)*param for every tensor */
HRDA_OP(ema_update, int dtype, int n_tensors, void* const* ema, void* const* params,
        const long* sizes, float alpha)

#endif
