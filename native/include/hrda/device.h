/* Device management in libhrda_cuda. All of cudart that the engine needs goes through these, so
 * the Java side never has to load the CUDA presets' cudart binding (which needs a driver). */
#ifndef HRDA_DEVICE_H
#define HRDA_DEVICE_H
#include "common.h"

HRDA_API const char* hrda_cuda_last_error(void);
/* HRDA_OK with count >= 0, or an error (no driver, version mismatch) with a message. */
HRDA_API int hrda_cuda_device_count(int* count);
HRDA_API int hrda_cuda_device_info(int device, char* name, int name_len, size_t* total_mem,
                                   int* cc_major, int* cc_minor, int* sm_count);
HRDA_API int hrda_cuda_versions(int* runtime_version, int* driver_version);
HRDA_API int hrda_cuda_set_device(int device);
HRDA_API int hrda_cuda_mem_info(size_t* free_bytes, size_t* total_bytes);
HRDA_API int hrda_cuda_stream_create(void** stream);
HRDA_API int hrda_cuda_stream_destroy(void* stream);
HRDA_API int hrda_cuda_stream_sync(void* stream);
/* Stream-ordered pool allocation (cudaMallocAsync); the pool keeps freed memory for reuse. */
HRDA_API int hrda_cuda_malloc(void** ptr, size_t bytes, void* stream);
HRDA_API int hrda_cuda_free(void* ptr, void* stream);
HRDA_API int hrda_cuda_pool_trim(void);
/* kind: 0 host->device, 1 device->host, 2 device->device; host memory should be pinned for
 * asynchronous copies */
HRDA_API int hrda_cuda_memcpy(void* dst, const void* src, size_t bytes, int kind, void* stream);
HRDA_API int hrda_cuda_host_alloc(void** ptr, size_t bytes);
HRDA_API int hrda_cuda_host_free(void* ptr);
/* compiled-in architectures, e.g. "sm_80 sm_86 sm_89 sm_90" */
HRDA_API const char* hrda_cuda_build_info(void);

#endif
