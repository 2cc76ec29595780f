// Internal to libhrda_cpu and libhrda_cuda (not part of the C ABI, not read by
// tools/gen_bindings.py): the thread-local error message, fail() and the basic argument checks
// (HRDA_CHECK, HRDA_CHECK_PTR, HRDA_CHECK_SIZE) of both libraries; the op-specific checks that
// use them are in op_checks.h. Compiles with g++ and nvcc (host code).
//
// Define HRDA_NS (the library's namespace: hrda_cpu or hrda_cuda) before including it: each
// library keeps its own message, read by hrda_cpu_last_error / hrda_cuda_last_error.
#pragma once
#ifndef HRDA_NS
#error "define HRDA_NS (hrda_cpu or hrda_cuda) before including hrda/detail/errors.h"
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
