// gpu.h — the GPU runtime: primary context, the build's embedded cubins, one launch helper, device memory,
// tensor maps for TMA, events. Driver API only (through cu.h).
// defines: Gpu, gpu_init, gpu_kernel, gpu_launch, gpu_alloc, gpu_upload, gpu_download, GpuArena, gpu_tmap_2d, GpuTimer
#pragma once
#include "cu.h"
#include <stdint.h>
#include <stdio.h>

typedef struct {
    CUdevice dev;
    CUcontext ctx;
    CUstream stream;        // every launch and async copy goes here
    char name[256];
    int sm_count, cc_major, cc_minor;
    int max_smem_optin;     // bytes of dynamic shared memory a block may opt in to
    size_t l2_bytes, total_mem;
    int debug_sync;         // QWEN3_DEBUG_SYNC=1: synchronise and check after every launch, naming the kernel
    // Programmatic dependent launch (ptx/pdl.h): every launch may start while the kernel before it on the stream
    // still runs (each kernel waits for it with griddepcontrol.wait). On unless QWEN3_PDL=0; callers may clear it.
    int pdl;
    // QWEN3_PROFILE (0..2). 2: every launch is bracketed by two events and its GPU time added up under
    // "<prof_phase>/<prof_tag>/<kernel entry>" (set by the caller; either may be NULL); gpu_prof_report prints the
    // table. (1 and up: the engine's step timing, gpu_engine.c.)
    int prof;
    const char *prof_phase, *prof_tag;
    struct GpuProf *prof_data;
} Gpu;

// 0 on success. -1 with a reason when there is no driver, no device, or the device is not sm_90 (Hopper):
// tests print "SKIP <reason>" on -1.
int  gpu_init(Gpu *g, char *err, size_t errlen);
void gpu_shutdown(Gpu *g);

// The cubin built from ptx/<module>.ptx, embedded in the binary, loaded once (JIT/info log printed on failure),
// and the .entry <entry> in it. Dies with a clear message if either is missing.
CUfunction gpu_kernel(Gpu *g, const char *module, const char *entry);
unsigned gpu_module_u32(Gpu *g, const char *module, const char *name);  // a module's .global .u32 (e.g. a kernel's smem)
unsigned gpu_module_u32_or(Gpu *g, const char *module, const char *name, unsigned missing);  // ... or `missing`

// Launch on g->stream. cluster may be NULL (no cluster). smem > 48 KB is opted in automatically.
// params: the usual kernelParams array (pointers to each argument). name: for error messages.
typedef struct { unsigned x, y, z; } Dim3;
void gpu_launch(Gpu *g, CUfunction f, Dim3 grid, Dim3 block, unsigned smem, const Dim3 *cluster,
                void **params, const char *name);
#define GPU_LAUNCH(g, f, grid, block, smem, ...) do { void *args_[] = { __VA_ARGS__ }; \
    gpu_launch((g), (f), (grid), (block), (smem), NULL, args_, #f); } while (0)

// QWEN3_PROFILE=2: the kernels' GPU time so far, per key, largest first (synchronises); clears the table.
void gpu_prof_report(Gpu *g, FILE *f);

// Device memory (checked; dies on failure with the size asked for and what is free).
CUdeviceptr gpu_alloc(Gpu *g, size_t bytes);
void gpu_free(Gpu *g, CUdeviceptr p);
void gpu_upload(Gpu *g, CUdeviceptr dst, const void *src, size_t bytes);    // synchronous
void gpu_download(Gpu *g, void *dst, CUdeviceptr src, size_t bytes);        // synchronous (syncs the stream)
void gpu_fill_u32(Gpu *g, CUdeviceptr dst, uint32_t value, size_t count);   // e.g. poison with 0x7FC00000 (NaN)
void gpu_sync(Gpu *g);

// One device allocation carved into many buffers (the engine's weights, KV cache and activations): a single
// cuMemAlloc whose size is known, and checked against free memory, before any upload starts. An arena with
// base 0 only counts: carve once to measure, gpu_arena_init with the total, carve again for real.
typedef struct { CUdeviceptr base; size_t size, used; } GpuArena;
int  gpu_arena_init(Gpu *g, GpuArena *a, size_t bytes, char *err, size_t errlen);  // -1: not enough free memory
CUdeviceptr gpu_arena_alloc(GpuArena *a, size_t bytes);                             // 256-byte aligned
void gpu_arena_free(Gpu *g, GpuArena *a);

// Clusters of cluster_x CTAs of f (block, smem) that can be resident at once (cuOccupancyMaxActiveClusters; at least
// 1): the grid size of a persistent clustered kernel. Cached per function.
int gpu_cluster_slots(Gpu *g, CUfunction f, Dim3 block, unsigned smem, unsigned cluster_x);

// TMA: a 2-D tensor map over a row-major [rows][cols] matrix (cols contiguous) of elem_bytes-sized elements,
// row stride in bytes, box of box_rows x box_cols. swizzle is CU_TENSOR_MAP_SWIZZLE_*.
void gpu_tmap_2d(CUtensorMap *map, CUdeviceptr base, CUtensorMapDataType dtype, uint64_t rows, uint64_t cols,
                 uint64_t row_stride_bytes, uint32_t box_rows, uint32_t box_cols, CUtensorMapSwizzle swizzle);

// Timing with events on g->stream.
typedef struct { CUevent start, stop; } GpuTimer;
void  gpu_timer_init(GpuTimer *t);
void  gpu_timer_start(Gpu *g, GpuTimer *t);
float gpu_timer_stop_ms(Gpu *g, GpuTimer *t);  // synchronises
void  gpu_timer_free(GpuTimer *t);

// The card's achievable memory bandwidth, the floor every benchmark divides bytes by: a 1 GiB device-to-device
// copy, bytes read plus written, median of 7 after a warm-up (~3.0 TB/s on an H100 SXM, ~4.2 on an H200).
double gpu_copy_bandwidth(Gpu *g);

// bf16 helpers for host-side test data
uint16_t host_f32_to_bf16(float f);
float    host_bf16_to_f32(uint16_t h);
