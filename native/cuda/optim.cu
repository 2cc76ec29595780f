// Multi-tensor AdamW, SGD (momentum, torch.optim.SGD) and EMA.
//
// Design (the multi_tensor_apply pattern): the host walks the parameter list, cuts every
// tensor into chunks of kChunk elements and packs up to kMaxTensors tensors / kMaxBlocks
// chunks into a metadata struct passed by value as the kernel argument (about 10 KB: CUDA 12.1+
// allows 32 KB of parameters on sm_70+). Block b updates chunk block_chunk[b] of tensor
// block_tensor[b]; a tensor whose chunks do not fit is continued in the next launch. So a whole
// model is a handful of launches instead of one per tensor. Updates run in f32 (16-byte packs
// when all of a tensor's pointers are 16-byte aligned); every tensor of a call has the same dtype.
#include "cuda_common.cuh"
#include <cmath>
#include <vector>

using namespace hrda_cuda;

namespace {

constexpr int kMaxTensors = 96;
constexpr int kMaxBlocks = 1024;
constexpr long kChunk = 32768;
constexpr int kOptThreads = 512;

template <int D> struct ListMeta {
  void* ptr[D][kMaxTensors];
  long size[kMaxTensors];
  float lr[kMaxTensors];
  float wd[kMaxTensors];
  unsigned char aligned[kMaxTensors];
  unsigned char block_tensor[kMaxBlocks];
  int block_chunk[kMaxBlocks];
};
static_assert(sizeof(ListMeta<4>) < 32000, "kernel parameter limit");

struct AdamHyper { float beta1, beta2, eps, bc1, bc2; };

__device__ __forceinline__ void adamw_update(float& p, float g, float& m, float& v, float lr, float wd,
                                             const AdamHyper& h) {
  p = p * (1.f - lr * wd);
  m = h.beta1 * m + (1.f - h.beta1) * g;
  v = h.beta2 * v + (1.f - h.beta2) * g * g;
  p -= lr * (m / h.bc1) / (sqrtf(v / h.bc2) + h.eps);
}

template <typename T>
__global__ void __launch_bounds__(kOptThreads) adamw_kernel(ListMeta<4> meta, AdamHyper h) {
  const int t = meta.block_tensor[blockIdx.x];
  const long start = (long)meta.block_chunk[blockIdx.x] * kChunk;
  const long n = meta.size[t];
  const long end = start + kChunk < n ? start + kChunk : n;
  T* p = (T*)meta.ptr[0][t];
  const T* g = (const T*)meta.ptr[1][t];
  T* m = (T*)meta.ptr[2][t];
  T* v = (T*)meta.ptr[3][t];
  const float lr = meta.lr[t], wd = meta.wd[t];
  constexpr int V = vec_width<T>();
  long i = start + threadIdx.x;
  if (meta.aligned[t]) {  // start is a multiple of kChunk, hence of V
    const long vend = start + (end - start) / V * V;
    for (long j = start + (long)threadIdx.x * V; j < vend; j += (long)blockDim.x * V) {
      float pv[V], gv[V], mv[V], vv[V];
      load_f<V>(p + j, pv);
      load_f<V>(g + j, gv);
      load_f<V>(m + j, mv);
      load_f<V>(v + j, vv);
#pragma unroll
      for (int k = 0; k < V; k++) adamw_update(pv[k], gv[k], mv[k], vv[k], lr, wd, h);
      store_f<V>(p + j, pv);
      store_f<V>(m + j, mv);
      store_f<V>(v + j, vv);
    }
    i = vend + threadIdx.x;
  }
  for (; i < end; i += blockDim.x) {
    float pv = to_f(p[i]), mv = to_f(m[i]), vv = to_f(v[i]);
    adamw_update(pv, to_f(g[i]), mv, vv, lr, wd, h);
    p[i] = from_f<T>(pv);
    m[i] = from_f<T>(mv);
    v[i] = from_f<T>(vv);
  }
}

struct SgdHyper { float momentum, dampening; int nesterov, first; };

// torch.optim.SGD on one element; b is the momentum buffer (D = 3) or unused (D = 2)
template <int D>
__device__ __forceinline__ void sgd_update(float& p, float g, float& b, float lr, float wd, const SgdHyper& h) {
  float d = g + wd * p;
  if (D == 3) {
    b = h.first ? d : h.momentum * b + (1.f - h.dampening) * d;
    d = h.nesterov ? d + h.momentum * b : b;
  }
  p -= lr * d;
}

// lists: params, grads (, momentum buffers)
template <int D, typename T>
__global__ void __launch_bounds__(kOptThreads) sgd_kernel(ListMeta<D> meta, SgdHyper h) {
  const int t = meta.block_tensor[blockIdx.x];
  const long start = (long)meta.block_chunk[blockIdx.x] * kChunk;
  const long n = meta.size[t];
  const long end = start + kChunk < n ? start + kChunk : n;
  T* p = (T*)meta.ptr[0][t];
  const T* g = (const T*)meta.ptr[1][t];
  T* b = D == 3 ? (T*)meta.ptr[D - 1][t] : nullptr;
  const float lr = meta.lr[t], wd = meta.wd[t];
  constexpr int V = vec_width<T>();
  long i = start + threadIdx.x;
  if (meta.aligned[t]) {
    const long vend = start + (end - start) / V * V;
    for (long j = start + (long)threadIdx.x * V; j < vend; j += (long)blockDim.x * V) {
      float pv[V], gv[V], bv[V];
      load_f<V>(p + j, pv);
      load_f<V>(g + j, gv);
      if (D == 3) load_f<V>(b + j, bv);
#pragma unroll
      for (int k = 0; k < V; k++) sgd_update<D>(pv[k], gv[k], bv[k], lr, wd, h);
      store_f<V>(p + j, pv);
      if (D == 3) store_f<V>(b + j, bv);
    }
    i = vend + threadIdx.x;
  }
  for (; i < end; i += blockDim.x) {
    float pv = to_f(p[i]), bv = D == 3 ? to_f(b[i]) : 0.f;
    sgd_update<D>(pv, to_f(g[i]), bv, lr, wd, h);
    p[i] = from_f<T>(pv);
    if (D == 3) b[i] = from_f<T>(bv);
  }
}

template <typename T>
__global__ void __launch_bounds__(kOptThreads) ema_kernel(ListMeta<2> meta, float alpha) {
  const int t = meta.block_tensor[blockIdx.x];
  const long start = (long)meta.block_chunk[blockIdx.x] * kChunk;
  const long n = meta.size[t];
  const long end = start + kChunk < n ? start + kChunk : n;
  T* e = (T*)meta.ptr[0][t];
  const T* p = (const T*)meta.ptr[1][t];
  const float beta = 1.f - alpha;
  constexpr int V = vec_width<T>();
  long i = start + threadIdx.x;
  if (meta.aligned[t]) {
    const long vend = start + (end - start) / V * V;
    for (long j = start + (long)threadIdx.x * V; j < vend; j += (long)blockDim.x * V) {
      float ev[V], pv[V];
      load_f<V>(e + j, ev);
      load_f<V>(p + j, pv);
#pragma unroll
      for (int k = 0; k < V; k++) ev[k] = alpha * ev[k] + beta * pv[k];
      store_f<V>(e + j, ev);
    }
    i = vend + threadIdx.x;
  }
  for (; i < end; i += blockDim.x) e[i] = from_f<T>(alpha * to_f(e[i]) + beta * to_f(p[i]));
}

// Packs the tensors into launches; launch(meta, blocks) enqueues one kernel.
template <int D, typename Launch>
int multi_tensor_apply(const char* op, int n_tensors, void* const* const (&lists)[D], const long* sizes,
                       const float* lr, const float* wd, const Launch& launch) {
  ListMeta<D> meta;
  int nt = 0, nb = 0;
  for (int t = 0; t < n_tensors; t++) {
    const long n = sizes[t];
    if (n <= 0) continue;
    int slot = nt++;
    bool al = true;
    for (int d = 0; d < D; d++) {
      meta.ptr[d][slot] = lists[d][t];
      al = al && aligned16(lists[d][t]);
    }
    meta.size[slot] = n;
    meta.lr[slot] = lr ? lr[t] : 0.f;
    meta.wd[slot] = wd ? wd[t] : 0.f;
    meta.aligned[slot] = al ? 1 : 0;
    const long chunks = ceil_div(n, kChunk);
    if (chunks >= (1L << 31)) return fail(HRDA_ERR_ARGUMENT, "%s: tensor %d has too many elements (%ld)", op, t, n);
    for (long ch = 0; ch < chunks; ch++) {
      meta.block_tensor[nb] = (unsigned char)slot;
      meta.block_chunk[nb] = (int)ch;
      nb++;
      const bool last_chunk = ch == chunks - 1;
      if (nb == kMaxBlocks || (nt == kMaxTensors && last_chunk)) {
        launch(meta, nb);
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return cuda_fail(e, op, "kernel launch");
        nb = 0;
        if (last_chunk) nt = 0;
        else {  // the rest of this tensor goes on in slot 0 of the next launch
          for (int d = 0; d < D; d++) meta.ptr[d][0] = meta.ptr[d][slot];
          meta.size[0] = meta.size[slot];
          meta.lr[0] = meta.lr[slot];
          meta.wd[0] = meta.wd[slot];
          meta.aligned[0] = meta.aligned[slot];
          slot = 0;
          nt = 1;
        }
      }
    }
  }
  if (nb > 0) {
    launch(meta, nb);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, op, "kernel launch");
  }
  return HRDA_OK;
}

}  // namespace

extern "C" {

int hrda_cuda_adamw_step(int dtype, int n_tensors, void* const* params, void* const* grads,
                         void* const* exp_avg, void* const* exp_avg_sq, const long* sizes,
                         const float* lr, const float* weight_decay, float beta1, float beta2, float eps, long step,
                         void* stream) {
  HRDA_CHECK(n_tensors >= 0, "adamw_step: n_tensors %d", n_tensors);
  HRDA_CHECK(step >= 1, "adamw_step: step %ld must count from 1", step);
  HRDA_CHECK(n_tensors == 0 || (params && grads && exp_avg && exp_avg_sq && sizes && lr && weight_decay), "adamw_step: NULL table");
  // all pointers are checked before anything is launched, so an error leaves every tensor untouched
  for (int t = 0; t < n_tensors; t++)
    HRDA_CHECK(sizes[t] <= 0 || (params[t] && grads[t] && exp_avg[t] && exp_avg_sq[t]),
               "adamw_step: tensor %d has a NULL pointer", t);
  const AdamHyper h{beta1, beta2, eps, (float)(1.0 - std::pow((double)beta1, (double)step)),
                    (float)(1.0 - std::pow((double)beta2, (double)step))};
  cudaStream_t st = as_stream(stream);
  void* const* const lists[4] = {params, grads, exp_avg, exp_avg_sq};
  HRDA_DISPATCH_FLOAT(dtype,
    return multi_tensor_apply<4>("adamw_step", n_tensors, lists, sizes, lr, weight_decay,
        [&](const ListMeta<4>& meta, int blocks) { adamw_kernel<T><<<blocks, kOptThreads, 0, st>>>(meta, h); }));
  return HRDA_OK;
}

int hrda_cuda_sgd_step(int dtype, int n_tensors, void* const* params, void* const* grads, void* const* momentum_buffer,
                       const long* sizes, const double* lr, const double* weight_decay, double momentum, double dampening,
                       int nesterov, int first_step, void* stream) {
  HRDA_CHECK(n_tensors >= 0, "sgd_step: n_tensors %d", n_tensors);
  HRDA_CHECK(n_tensors == 0 || (params && grads && sizes && lr && weight_decay), "sgd_step: NULL table");
  HRDA_CHECK(momentum == 0 || momentum_buffer || n_tensors == 0, "sgd_step: momentum %g needs the momentum_buffer table",
             momentum);
  HRDA_CHECK(!nesterov || (momentum > 0 && dampening == 0), "sgd_step: Nesterov momentum requires a momentum and zero "
             "dampening (torch.optim.SGD), got momentum %g, dampening %g", momentum, dampening);
  for (int t = 0; t < n_tensors; t++)
    HRDA_CHECK(sizes[t] <= 0 || (params[t] && grads[t] && (momentum == 0 || momentum_buffer[t])),
               "sgd_step: tensor %d has a NULL pointer", t);
  std::vector<float> lr32(lr, lr + n_tensors), wd32(weight_decay, weight_decay + n_tensors);
  const SgdHyper h{(float)momentum, (float)dampening, nesterov != 0, first_step != 0};
  cudaStream_t st = as_stream(stream);
  if (momentum == 0) {
    void* const* const lists[2] = {params, grads};
    HRDA_DISPATCH_FLOAT(dtype,
      return multi_tensor_apply<2>("sgd_step", n_tensors, lists, sizes, lr32.data(), wd32.data(),
          [&](const ListMeta<2>& meta, int blocks) { sgd_kernel<2, T><<<blocks, kOptThreads, 0, st>>>(meta, h); }));
  } else {
    void* const* const lists[3] = {params, grads, momentum_buffer};
    HRDA_DISPATCH_FLOAT(dtype,
      return multi_tensor_apply<3>("sgd_step", n_tensors, lists, sizes, lr32.data(), wd32.data(),
          [&](const ListMeta<3>& meta, int blocks) { sgd_kernel<3, T><<<blocks, kOptThreads, 0, st>>>(meta, h); }));
  }
  return HRDA_OK;
}

int hrda_cuda_ema_update(int dtype, int n_tensors, void* const* ema, void* const* params, const long* sizes, float alpha,
                         void* stream) {
  HRDA_CHECK(n_tensors >= 0, "ema_update: n_tensors %d", n_tensors);
  HRDA_CHECK(n_tensors == 0 || (ema && params && sizes), "ema_update: NULL table");
  HRDA_CHECK(alpha >= 0.f && alpha <= 1.f, "ema_update: alpha %g outside [0, 1]", (double)alpha);
  for (int t = 0; t < n_tensors; t++)
    HRDA_CHECK(sizes[t] <= 0 || (ema[t] && params[t]), "ema_update: tensor %d has a NULL pointer", t);
  cudaStream_t st = as_stream(stream);
  void* const* const lists[2] = {ema, params};
  HRDA_DISPATCH_FLOAT(dtype,
    return multi_tensor_apply<2>("ema_update", n_tensors, lists, sizes, nullptr, nullptr,
        [&](const ListMeta<2>& meta, int blocks) { ema_kernel<T><<<blocks, kOptThreads, 0, st>>>(meta, alpha); }));
  return HRDA_OK;
}

}  // extern "C"
