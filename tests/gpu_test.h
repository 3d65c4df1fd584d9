// gpu_test.h — what every GPU test program shares: one Gpu opened on first use, a SKIP with the reason when there
// is no usable GPU (CI, this machine), and the program's random stream.
// defines: G, NEED_GPU, gpu_test_end, rng
#pragma once
#include "test.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"

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
