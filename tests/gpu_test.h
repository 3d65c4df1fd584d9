// gpu_test.h — what every GPU test program shares: one Gpu opened on first use, a SKIP with the reason when there
// is no usable GPU (CI, this machine), and the program's random stream.
// defines: G, NEED_GPU, gpu_test_end, rng, fp8_out_diff, host_tensor
#pragma once
#include "test.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"
#include <math.h>
#include <string.h>

static Gpu G;
static int gpu_state;  // 0 untried, 1 ready, -1 unavailable
static char gpu_err[256];
static Rng rng;

#define NEED_GPU() do { \
    if (!gpu_state) gpu_state = gpu_init(&G, gpu_err, sizeof gpu_err) == 0 ? 1 : -1; \
    if (gpu_state < 0) SKIP("%s", gpu_err); } while (0)

// Frees the upload staging buffers (if any upload ran) and closes the GPU.
static void gpu_test_end(void) {
    if (gpu_state > 0) { gpu_upload_free(&G); gpu_shutdown(&G); }
}

// Two FP8 outputs on the device, e4m3 [M][F] with f32 scales [M][F/128], compared byte for byte (a fused epilogue
// against quant_act_fp8 of the unfused output): *bad counts the bytes that differ (with poison_bad, also b's bytes
// still 0x7F, the NaN poison), *bad_s the scales that differ or are not finite in b.
static inline void fp8_out_diff(CUdeviceptr qa, CUdeviceptr sa, CUdeviceptr qb, CUdeviceptr sb, int M, int F,
                                int poison_bad, size_t *bad, size_t *bad_s) {
    size_t n = (size_t)M * F, ns = (size_t)M * (F / 128);
    uint8_t *b0 = xmalloc(n), *b1 = xmalloc(n);
    float *f0 = xmalloc(ns * 4), *f1 = xmalloc(ns * 4);
    gpu_download(&G, b0, qa, n);
    gpu_download(&G, b1, qb, n);
    gpu_download(&G, f0, sa, ns * 4);
    gpu_download(&G, f1, sb, ns * 4);
    *bad = *bad_s = 0;
    for (size_t k = 0; k < n; k++) *bad += b0[k] != b1[k] || (poison_bad && b1[k] == 0x7F);
    for (size_t k = 0; k < ns; k++) *bad_s += memcmp(&f0[k], &f1[k], 4) != 0 || !isfinite(f1[k]);
    free(b0); free(b1); free(f0); free(f1);
}

// A GGUF tensor over host memory: the loader's view of a file's [rows][K] tensor.
static inline GGUFTensor host_tensor(const char *name, uint32_t type, const void *data, int rows, int K) {
    GGUFTensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.type = type;
    t.n_dims = 2;
    t.ne[0] = K; t.ne[1] = rows; t.ne[2] = t.ne[3] = 1;
    t.nbytes = (uint64_t)rows * K * (type == GGML_TYPE_F32 ? 4 : 2);
    t.data = data;
    return t;
}
