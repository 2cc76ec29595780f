// Internal to libhrda_cpu and libhrda_cuda (not part of the C ABI): the thread-local error
// message, fail(), and the argument checks both libraries make, so that a CPU twin and its CUDA
// kernel refuse the same arguments with the same words. Compiles with g++ and nvcc (host code).
//
// Define HRDA_NS (the library's namespace: hrda_cpu or hrda_cuda) before including it: each
// library keeps its own message, read by hrda_cpu_last_error / hrda_cuda_last_error.
#pragma once
#ifndef HRDA_NS
#error "define HRDA_NS (hrda_cpu or hrda_cuda) before including common/checks.h"
#endif
#include "hrda/hrda.h"
#include <cstdarg>
#include <cstdio>

namespace HRDA_NS {

constexpr int kErrorLength = 1024;

// This library's message for the calling thread (hrda_*_last_error returns it).
inline char* error_message() {
  static thread_local char msg[kErrorLength] = "";
  return msg;
}

// Formats the message like printf and returns code.
inline int fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
inline int fail(int code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(error_message(), kErrorLength, fmt, ap);
  va_end(ap);
  return code;
}

}  // namespace HRDA_NS

#define HRDA_CHECK(cond, ...) \
  do { if (!(cond)) return ::HRDA_NS::fail(HRDA_ERR_ARGUMENT, __VA_ARGS__); } while (0)
#define HRDA_CHECK_PTR(p) HRDA_CHECK((p) != nullptr, "%s: argument '%s' is NULL", __func__, #p)
#define HRDA_CHECK_SIZE(v) HRDA_CHECK((v) >= 0, "%s: size '%s' = %ld is negative", __func__, #v, (long)(v))

// The geometry of a convolution op (conv.h): positive sizes, strides and dilations, non-negative
// padding, and an output size that matches the input, kernel, stride, padding and dilation.
// Expects the op's arguments C, H, W, KH, KW, ph, pw, sh, sw, dh, dw, Ho, Wo in scope.
#define HRDA_CONV_CHECKS(name)                                                                      \
  HRDA_CHECK(C > 0 && H > 0 && W > 0 && KH > 0 && KW > 0 && Ho > 0 && Wo > 0,                      \
             name ": sizes must be positive (C %ld, H %ld, W %ld, K %ldx%ld, out %ldx%ld)", C, H, W, KH, KW, Ho, Wo); \
  HRDA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0,                           \
             name ": stride %ldx%ld, dilation %ldx%ld must be positive, padding %ldx%ld non-negative", sh, sw, dh, dw, ph, pw); \
  HRDA_CHECK(Ho == (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1 && Wo == (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1, \
             name ": output %ldx%ld does not match input %ldx%ld with this kernel/stride/padding/dilation", Ho, Wo, H, W)
