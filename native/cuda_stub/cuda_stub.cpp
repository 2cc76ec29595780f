// libhrda_cuda built without nvcc: every entry point exists (so the Java binding links and loads)
// and answers HRDA_ERR_NO_CUDA with a message that says why.
#define HRDA_OP(name, ...) \
  extern "C" __attribute__((visibility("default"))) int hrda_cuda_##name(__VA_ARGS__, void* stream) { return no_cuda(); }
static int no_cuda();
#include "hrda/hrda.h"

static const char* kWhy =
    "libhrda_cuda was built without CUDA support (nvcc not found at build time, or -Dhrda.cuda=OFF) "
    "(install the CUDA toolkit, put nvcc on PATH or set CUDA_HOME, and rebuild)";
static int no_cuda() { return HRDA_ERR_NO_CUDA; }

extern "C" {
const char* hrda_cuda_last_error(void) { return kWhy; }
int hrda_cuda_device_count(int* count) { if (count) *count = 0; return no_cuda(); }
int hrda_cuda_device_info(int, char* name, int name_len, size_t*, int*, int*, int*) {
  if (name && name_len > 0) name[0] = 0;
  return no_cuda();
}
int hrda_cuda_versions(int* r, int* d) { if (r) *r = 0; if (d) *d = 0; return no_cuda(); }
int hrda_cuda_set_device(int) { return no_cuda(); }
int hrda_cuda_mem_info(size_t*, size_t*) { return no_cuda(); }
int hrda_cuda_stream_create(void**) { return no_cuda(); }
int hrda_cuda_stream_destroy(void*) { return no_cuda(); }
int hrda_cuda_stream_sync(void*) { return no_cuda(); }
int hrda_cuda_malloc(void**, size_t, void*) { return no_cuda(); }
int hrda_cuda_free(void*, void*) { return no_cuda(); }
int hrda_cuda_pool_trim(void) { return no_cuda(); }
int hrda_cuda_memcpy(void*, const void*, size_t, int, void*) { return no_cuda(); }
int hrda_cuda_host_alloc(void**, size_t) { return no_cuda(); }
int hrda_cuda_host_free(void*) { return no_cuda(); }
const char* hrda_cuda_build_info(void) { return "stub (no nvcc at build time)"; }
}
