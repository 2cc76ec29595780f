/* hrda native C ABI: shared definitions.
 *
 * Every op is declared once with HRDA_OP(name, args...), which declares two functions with the
 * same argument list: hrda_cpu_<name>(args...) in libhrda_cpu (C++/OpenMP, the reference) and
 * hrda_cuda_<name>(args..., void* stream) in libhrda_cuda (our kernels, stream-ordered).
 * All pointers are raw addresses on the library's device; tensors are dense and row-major
 * (NCHW for maps, [rows, cols] for tokens). Functions return HRDA_OK or an error code and leave
 * a readable message in hrda_{cpu,cuda}_last_error() (thread-local).
 *
 * Conventions shared by all ops:
 *  - `dtype` is one of hrda_dtype; the CPU library computes in f32 and f64, the CUDA library in
 *    f32, bf16 and f16 (accumulating in f32).
 *  - Backward functions take `accumulate`: 0 overwrites the input gradient, 1 adds to it.
 *    Parameter gradients (dgamma, dweight, ...) are always accumulated (+=).
 */
#ifndef HRDA_COMMON_H
#define HRDA_COMMON_H
#include <stddef.h>

#ifdef __cplusplus
#define HRDA_EXTERN extern "C"
#else
#define HRDA_EXTERN
#endif
#define HRDA_API HRDA_EXTERN __attribute__((visibility("default")))

#ifndef HRDA_OP
#define HRDA_OP(name, ...)                                   \
  HRDA_API int hrda_cpu_##name(__VA_ARGS__);                 \
  HRDA_API int hrda_cuda_##name(__VA_ARGS__, void* stream);
#endif

enum hrda_dtype { HRDA_F32 = 0, HRDA_F64 = 1, HRDA_BF16 = 2, HRDA_F16 = 3, HRDA_I32 = 4, HRDA_U8 = 5 };

enum hrda_status {
  HRDA_OK = 0,
  HRDA_ERR_ARGUMENT = 1,     /* a size, pointer or dtype is invalid: the message names it */
  HRDA_ERR_UNSUPPORTED = 2,  /* valid request this library cannot do (e.g. f64 on CUDA) */
  HRDA_ERR_CUDA = 3,         /* a CUDA runtime call failed: the message has cudaGetErrorString */
  HRDA_ERR_NO_CUDA = 4,      /* the CUDA library was built without nvcc */
  HRDA_ERR_MEMORY = 5
};

enum hrda_activation { HRDA_RELU = 0, HRDA_GELU = 1, HRDA_SIGMOID = 2 };

HRDA_API const char* hrda_cpu_last_error(void);
HRDA_API const char* hrda_cpu_version(void);
HRDA_API int hrda_cpu_num_threads(void);
HRDA_API void* hrda_cpu_alloc(size_t bytes);  /* 64-byte aligned, NULL on failure */
HRDA_API void hrda_cpu_free(void* p);
HRDA_API int hrda_cpu_memcpy(void* dst, const void* src, size_t bytes);

/* Counter-based random numbers shared by both libraries, so that CPU and CUDA draw the same
 * dropout masks for the same seed: uniform in [0,1) from (seed, index). */
#ifdef __CUDACC__
#define HRDA_HD __host__ __device__ __forceinline__
#else
#define HRDA_HD static inline
#endif
HRDA_HD float hrda_uniform(unsigned long long seed, unsigned long long index) {
  unsigned long long z = seed + 0x9E3779B97F4A7C15ULL * (index + 1ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z = z ^ (z >> 31);
  return (float)(z >> 40) * (1.0f / 16777216.0f);
}

#endif
