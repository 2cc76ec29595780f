/* Layer norm over the last dimension and batch norm over NCHW maps.
 * Statistics (mean, rstd, running stats) are f64 for f64 data and f32 otherwise; gamma and beta
 * have the data's dtype. */
#ifndef HRDA_NORM_H
#define HRDA_NORM_H
#include "common.h"

/* x, y: [rows, cols]; gamma, beta: [cols]; mean, rstd: [rows] (saved for backward) */
HRDA_OP(layernorm_forward, int dtype, long rows, long cols, float eps,
        const void* x, const void* gamma, const void* beta, void* y, void* mean, void* rstd)
HRDA_OP(layernorm_backward, int dtype, long rows, long cols,
        const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
        void* dx, void* dgamma, void* dbeta, int accumulate)

/* x, y: [N, C, HW]. training=1: normalise with batch statistics (biased variance), save
 * mean/rstd, and update running stats with momentum (unbiased variance, as PyTorch);
 * training=0: normalise with the running statistics (save_mean/save_rstd may be NULL). */
HRDA_OP(batchnorm_forward, int dtype, long N, long C, long HW, float eps, float momentum, int training,
        const void* x, const void* gamma, const void* beta, void* y,
        void* running_mean, void* running_var, void* save_mean, void* save_rstd)
/* Backward of the training-mode forward. */
HRDA_OP(batchnorm_backward, int dtype, long N, long C, long HW,
        const void* x, const void* gamma, const void* save_mean, const void* save_rstd,
        const void* dy, void* dx, void* dgamma, void* dbeta, int accumulate)
/* Backward of the eval-mode forward (frozen running statistics, as RIPU's FrozenBN and a frozen
 * ImageNet model): with rs = 1 / sqrt(running_var + eps),
 *   dx (+)= dy * gamma * rs,  dgamma += sum_{n,hw} dy * (x - running_mean) * rs,  dbeta += sum dy.
 * The running statistics are read, never written. dx, dgamma, dbeta may each be NULL.
 * Sums in a fixed order (CPU: one channel per task; CUDA: the two-stage channel reduction).
 * Cost: ~7 FLOPs and 3 (4 when accumulating) elements moved per element of x. */
HRDA_OP(batchnorm_eval_backward, int dtype, long N, long C, long HW, float eps,
        const void* x, const void* gamma, const void* running_mean, const void* running_var,
        const void* dy, void* dx, void* dgamma, void* dbeta, int accumulate)

#endif
