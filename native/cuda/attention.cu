// Fused multi-head attention: CUDA kernels not written yet; the entry points exist so that the
// Java binding links, and answer HRDA_ERR_UNSUPPORTED.
#include "cuda_common.cuh"

using namespace hrda_cuda;

extern "C" {

int hrda_cuda_attention_forward(int, long, long, long, long, long, float, const void*, const void*, void*, void*, void*) {
  return fail(HRDA_ERR_UNSUPPORTED, "attention_forward: no CUDA kernel yet (use the CPU backend)");
}

int hrda_cuda_attention_backward(int, long, long, long, long, long, float, const void*, const void*, const void*,
                                 const void*, const void*, void*, void*, int, int, void*) {
  return fail(HRDA_ERR_UNSUPPORTED, "attention_backward: no CUDA kernel yet (use the CPU backend)");
}

}  // extern "C"
