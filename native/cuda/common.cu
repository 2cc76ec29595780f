// libhrda_cuda: errors, devices, streams, memory (device.h).
//
// Design: every entry point returns a status and leaves a readable message in a thread-local
// buffer. Device memory comes from the device's default stream-ordered pool (cudaMallocAsync /
// cudaFreeAsync on the caller's stream); its release threshold is raised to "never" once per
// device, so memory freed in one training step is reused by the next without going back to
// the driver. hrda_cuda_pool_trim hands unused pool memory back on request.
#include "cuda_common.cuh"
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace hrda_cuda {
int cuda_fail(cudaError_t e, const char* op, const char* what) {
  const int code = e == cudaErrorMemoryAllocation ? HRDA_ERR_MEMORY : HRDA_ERR_CUDA;
  cudaGetLastError();  // a failed call also sets the last error: clear it so the next launch check is ours
  return fail(code, "%s: %s failed: %s (%s)", op, what, cudaGetErrorString(e), cudaGetErrorName(e));
}

const char* dtype_name(int dtype) {
  switch (dtype) {
    case HRDA_F32: return "f32";
    case HRDA_F64: return "f64";
    case HRDA_BF16: return "bf16";
    case HRDA_F16: return "f16";
    case HRDA_I32: return "i32";
    case HRDA_U8: return "u8";
    default: return "unknown";
  }
}

constexpr int kMaxDevices = 64;
static std::atomic<int> g_sm_count[kMaxDevices];
static std::atomic<int> g_pool_ready[kMaxDevices];

int sm_count() {
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0) return 132;
  if (dev >= kMaxDevices) {
    int n = 0;
    return cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && n > 0 ? n : 132;
  }
  int n = g_sm_count[dev].load(std::memory_order_relaxed);
  if (n > 0) return n;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) return 132;
  g_sm_count[dev].store(n, std::memory_order_relaxed);
  return n;
}

static int setup_pool(int dev, const char* op) {
  cudaMemPool_t pool;
  cudaError_t e = cudaDeviceGetDefaultMemPool(&pool, dev);
  if (e != cudaSuccess) return cuda_fail(e, op, "cudaDeviceGetDefaultMemPool");
  uint64_t threshold = UINT64_MAX;
  e = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  if (e != cudaSuccess) return cuda_fail(e, op, "cudaMemPoolSetAttribute(release threshold)");
  return HRDA_OK;
}

int ensure_pool(const char* op) {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return cuda_fail(e, op, "cudaGetDevice");
  if (dev >= 0 && dev < kMaxDevices && g_pool_ready[dev].load(std::memory_order_acquire)) return HRDA_OK;
  const int rc = setup_pool(dev, op);  // idempotent: racing threads set the same value
  if (rc == HRDA_OK && dev >= 0 && dev < kMaxDevices) g_pool_ready[dev].store(1, std::memory_order_release);
  return rc;
}

}  // namespace hrda_cuda

using namespace hrda_cuda;

#ifndef HRDA_CUDA_ARCHS
#define HRDA_CUDA_ARCHS "unknown"
#endif

#define DEV_TRY(call)                                                              \
  do {                                                                             \
    cudaError_t e_ = (call);                                                       \
    if (e_ != cudaSuccess) return cuda_fail(e_, __func__, #call);                  \
  } while (0)

extern "C" {

HRDA_API const char* hrda_cuda_last_error(void) { return error_message(); }

HRDA_API const char* hrda_cuda_build_info(void) { return HRDA_CUDA_ARCHS; }

HRDA_API int hrda_cuda_device_count(int* count) {
  HRDA_CHECK_PTR(count);
  *count = 0;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorNoDevice) { cudaGetLastError(); return HRDA_OK; }
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(HRDA_ERR_CUDA, "hrda_cuda_device_count: cudaGetDeviceCount failed: %s (%s)%s",
                cudaGetErrorString(e), cudaGetErrorName(e),
                e == cudaErrorInsufficientDriver ? " - the NVIDIA driver is older than this CUDA runtime" : "");
  }
  *count = n;
  return HRDA_OK;
}

HRDA_API int hrda_cuda_device_info(int device, char* name, int name_len, size_t* total_mem,
                                   int* cc_major, int* cc_minor, int* sm_count_out) {
  if (name && name_len > 0) name[0] = 0;
  int n = 0;
  DEV_TRY(cudaGetDeviceCount(&n));
  HRDA_CHECK(device >= 0 && device < n, "hrda_cuda_device_info: device %d outside [0, %d)", device, n);
  cudaDeviceProp prop;
  DEV_TRY(cudaGetDeviceProperties(&prop, device));
  if (name && name_len > 0) {
    std::strncpy(name, prop.name, (size_t)name_len - 1);
    name[name_len - 1] = 0;
  }
  if (total_mem) *total_mem = prop.totalGlobalMem;
  if (cc_major) *cc_major = prop.major;
  if (cc_minor) *cc_minor = prop.minor;
  if (sm_count_out) *sm_count_out = prop.multiProcessorCount;
  return HRDA_OK;
}

HRDA_API int hrda_cuda_versions(int* runtime_version, int* driver_version) {
  int r = 0, d = 0;
  DEV_TRY(cudaRuntimeGetVersion(&r));
  DEV_TRY(cudaDriverGetVersion(&d));
  if (runtime_version) *runtime_version = r;
  if (driver_version) *driver_version = d;
  return HRDA_OK;
}

HRDA_API int hrda_cuda_set_device(int device) {
  DEV_TRY(cudaSetDevice(device));
  return ensure_pool(__func__);
}

HRDA_API int hrda_cuda_mem_info(size_t* free_bytes, size_t* total_bytes) {
  size_t f = 0, t = 0;
  DEV_TRY(cudaMemGetInfo(&f, &t));
  if (free_bytes) *free_bytes = f;
  if (total_bytes) *total_bytes = t;
  return HRDA_OK;
}

HRDA_API int hrda_cuda_stream_create(void** stream) {
  HRDA_CHECK_PTR(stream);
  cudaStream_t s = nullptr;
  DEV_TRY(cudaStreamCreateWithFlags(&s, cudaStreamDefault));
  *stream = s;
  return HRDA_OK;
}

HRDA_API int hrda_cuda_stream_destroy(void* stream) {
  if (!stream) return HRDA_OK;  // the default stream is never destroyed
  DEV_TRY(cudaStreamDestroy(as_stream(stream)));
  return HRDA_OK;
}

HRDA_API int hrda_cuda_stream_sync(void* stream) {
  DEV_TRY(cudaStreamSynchronize(as_stream(stream)));
  return HRDA_OK;
}

HRDA_API int hrda_cuda_malloc(void** ptr, size_t bytes, void* stream) {
  HRDA_CHECK_PTR(ptr);
  *ptr = nullptr;
  if (bytes == 0) return HRDA_OK;
  int rc = ensure_pool(__func__);
  if (rc != HRDA_OK) return rc;
  const cudaError_t e = cudaMallocAsync(ptr, bytes, as_stream(stream));
  if (e != cudaSuccess) {
    *ptr = nullptr;
    size_t f = 0, t = 0;
    cudaGetLastError();
    cudaMemGetInfo(&f, &t);
    return fail(e == cudaErrorMemoryAllocation ? HRDA_ERR_MEMORY : HRDA_ERR_CUDA,
                "hrda_cuda_malloc: cudaMallocAsync of %zu bytes failed: %s (%s); device has %zu of %zu bytes free",
                bytes, cudaGetErrorString(e), cudaGetErrorName(e), f, t);
  }
  return HRDA_OK;
}

HRDA_API int hrda_cuda_free(void* ptr, void* stream) {
  if (!ptr) return HRDA_OK;
  DEV_TRY(cudaFreeAsync(ptr, as_stream(stream)));
  return HRDA_OK;
}

HRDA_API int hrda_cuda_pool_trim(void) {
  int dev = 0;
  DEV_TRY(cudaGetDevice(&dev));
  cudaMemPool_t pool;
  DEV_TRY(cudaDeviceGetDefaultMemPool(&pool, dev));
  DEV_TRY(cudaMemPoolTrimTo(pool, 0));
  return HRDA_OK;
}

HRDA_API int hrda_cuda_memcpy(void* dst, const void* src, size_t bytes, int kind, void* stream) {
  HRDA_CHECK(kind >= 0 && kind <= 2, "hrda_cuda_memcpy: kind %d is not 0 (host->device), 1 (device->host) "
             "or 2 (device->device)", kind);
  if (bytes == 0) return HRDA_OK;
  HRDA_CHECK(dst && src, "hrda_cuda_memcpy: NULL pointer for %zu bytes", bytes);
  static const cudaMemcpyKind kinds[3] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice};
  DEV_TRY(cudaMemcpyAsync(dst, src, bytes, kinds[kind], as_stream(stream)));
  return HRDA_OK;
}

HRDA_API int hrda_cuda_host_alloc(void** ptr, size_t bytes) {
  HRDA_CHECK_PTR(ptr);
  *ptr = nullptr;
  if (bytes == 0) return HRDA_OK;
  DEV_TRY(cudaHostAlloc(ptr, bytes, cudaHostAllocDefault));
  return HRDA_OK;
}

HRDA_API int hrda_cuda_host_free(void* ptr) {
  if (!ptr) return HRDA_OK;
  DEV_TRY(cudaFreeHost(ptr));
  return HRDA_OK;
}

}  // extern "C"
