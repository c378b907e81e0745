/* dlgn CUDA shim: compile a dlgn-generated .cu file with a host C++ compiler.
 *
 *   g++ -x c++ -O2 -fPIC -shared -include cuda_shim.h model.cu -o model.so
 *
 * The generated source uses only what this header provides: __global__/__device__
 * qualifiers, 1-D blockIdx/threadIdx/blockDim/gridDim, per-thread slices of __shared__
 * arrays (never shared between threads, no __syncthreads), __popc/__popcll, streams as
 * opaque handles, a few cudart calls, and the DLGN_LAUNCH(kernel, grid, block, stream,
 * args...) macro instead of <<<...>>>.  A launch runs every thread of every block one
 * after another on the calling thread, so kernels must not communicate between threads.
 * "Device" memory is host memory: cudaMalloc is malloc and every memcpy kind is memcpy.
 */
#ifndef DLGN_CUDA_SHIM_H
#define DLGN_CUDA_SHIM_H

#ifdef __CUDACC__
#error "cuda_shim.h is for host C++ compilers; nvcc needs no shim"
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define DLGN_CUDA_SHIM 1

struct dim3 {
    unsigned int x, y, z;
    dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

/* One host thread runs a launch, so plain globals are enough; thread_local keeps two
 * host threads that launch at the same time apart. */
static thread_local dim3 blockIdx(0, 0, 0), threadIdx(0, 0, 0), blockDim(1, 1, 1),
    gridDim(1, 1, 1);

#define __global__ static
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
/* a __shared__ array is one static array per kernel: blocks run one after another */
#define __shared__ static
#define DLGN_NOINLINE __attribute__((noinline))

static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }

typedef void *cudaStream_t;
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidValue = 1 };
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4
};

static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error (CUDA shim)" : "error (CUDA shim)";
}
static inline cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = std::malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
static inline cudaError_t cudaFree(void *p) { std::free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
    if (n) std::memcpy(d, s, n);
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k,
                                          cudaStream_t = 0) {
    return cudaMemcpy(d, s, n, k);
}
static inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t = 0) {
    if (n) std::memset(d, v, n);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }

/* kernel<<<grid, block, 0, stream>>>(args...) for 1-D launches */
#define DLGN_LAUNCH(kernel, grid, block, stream, ...)                                     \
    do {                                                                                  \
        (void)(stream);                                                                   \
        gridDim = dim3((unsigned int)(grid));                                             \
        blockDim = dim3((unsigned int)(block));                                           \
        for (unsigned int dlgn_bx_ = 0; dlgn_bx_ < gridDim.x; ++dlgn_bx_) {                 \
            for (unsigned int dlgn_tx_ = 0; dlgn_tx_ < blockDim.x; ++dlgn_tx_) {            \
                blockIdx = dim3(dlgn_bx_, 0, 0);                                          \
                threadIdx = dim3(dlgn_tx_, 0, 0);                                         \
                kernel(__VA_ARGS__);                                                      \
            }                                                                             \
        }                                                                                 \
    } while (0)

#endif /* DLGN_CUDA_SHIM_H */
