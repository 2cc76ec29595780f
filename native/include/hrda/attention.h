/* Fused multi-head attention of MiT's efficient self-attention (SegFormer):
 *   q   [B, N, C]  queries, channels last; head h uses channels h*D .. h*D+D-1 (C = H*D)
 *   kv  [B, M, 2C] output of the kv Linear: k = channels 0..C-1, v = channels C..2C-1, each split
 *                  into heads like q (PyTorch's kv.reshape(B, M, 2, H, D))
 *   out [B, N, C]  out_h = softmax(scale * q_h k_h^T) v_h, written back to channels h*D.. (as
 *                  (attn @ v).transpose(1, 2).reshape(B, N, C))
 *   lse [B, H, N]  logsumexp of each score row (natural log), saved for the backward; f32, or f64
 *                  when dtype is f64 (CPU)
 * The N x M score matrix never exists in memory. M >= 1, N >= 0. The CPU twin takes any D; the
 * CUDA kernels take D = 32 or 64 (HRDA_ERR_UNSUPPORTED otherwise). */
#ifndef HRDA_ATTENTION_H
#define HRDA_ATTENTION_H
#include "common.h"

HRDA_OP(attention_forward, int dtype, long B, long N, long M, long H, long D, float scale,
        const void* q, const void* kv, void* out, void* lse)
/* From dout [B, N, C] and the forward's out and lse: dq [B, N, C] and dkv [B, M, 2C] (dk in
 * channels 0..C-1, dv in C..2C-1, the layout of kv). Either gradient may be NULL (not needed);
 * accumulate_dq / accumulate_dkv: 0 overwrites, 1 adds. */
HRDA_OP(attention_backward, int dtype, long B, long N, long M, long H, long D, float scale,
        const void* q, const void* kv, const void* out, const void* lse, const void* dout,
        void* dq, void* dkv, int accumulate_dq, int accumulate_dkv)

#endif
