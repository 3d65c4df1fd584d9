// gpu.c — the GPU runtime over the Driver API: primary context, embedded cubins, launches, memory, tensor maps.
#include "gpu.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; const unsigned char *data; size_t size; } EmbeddedCubin;
extern const EmbeddedCubin embedded_cubins[];  // build/cubins.c, generated from ptx/*.ptx by host/embed.sh

// ---------------------------------------------------------------- context
int gpu_init(Gpu *g, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    if (cu_load(err, errlen)) return -1;
    CUresult r = cuInit(0);
    if (r != CUDA_SUCCESS) {
        const char *name = "?";
        cuGetErrorName(r, &name);
        snprintf(err, errlen, "cuInit failed: %s (no usable NVIDIA driver or device)", name);
        return -1;
    }
    int n = 0;
    CU_CHECK(cuDeviceGetCount(&n));
    if (n == 0) { snprintf(err, errlen, "no CUDA device"); return -1; }
    const char *want = getenv("QWEN3_DEVICE");
    CU_CHECK(cuDeviceGet(&g->dev, want ? atoi(want) : 0));
    CU_CHECK(cuDeviceGetName(g->name, sizeof g->name, g->dev));
    CU_CHECK(cuDeviceGetAttribute(&g->cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g->dev));
    CU_CHECK(cuDeviceGetAttribute(&g->cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g->dev));
    if (g->cc_major != 9 || g->cc_minor != 0) {
        snprintf(err, errlen, "%s is sm_%d%d; the kernels are built for sm_90a (Hopper: H100/H800/H200)", g->name,
                 g->cc_major, g->cc_minor);
        return -1;
    }
    int l2 = 0;
    CU_CHECK(cuDeviceGetAttribute(&g->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, g->dev));
    CU_CHECK(cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, g->dev));
    CU_CHECK(cuDeviceGetAttribute(&g->max_smem_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, g->dev));
    CU_CHECK(cuDeviceTotalMem(&g->total_mem, g->dev));
    g->l2_bytes = (size_t)l2;
    CU_CHECK(cuDevicePrimaryCtxRetain(&g->ctx, g->dev));
    CU_CHECK(cuCtxSetCurrent(g->ctx));
    CU_CHECK(cuStreamCreate(&g->stream, CU_STREAM_NON_BLOCKING));
    g->debug_sync = env_int("QWEN3_DEBUG_SYNC", 0, 1, 0);
    g->pdl = env_int("QWEN3_PDL", 0, 1, 1);
    g->prof = env_int("QWEN3_PROFILE", 0, 2, 0);
    return 0;
}

// Loaded modules, cached by name for the life of the process (a handful of cubins).
#define MAX_MODULES 64
static struct { const char *name; CUmodule mod; CUcontext ctx; } modules[MAX_MODULES];
static int n_modules;

// The timeline (QWEN3_TRACE=FILE with a `make TRACE=1` build, whose kernels record it: ptx/pdl.h): every launch's
// CTA 0 writes {t0, t1, gridid, module, grid} into slot (t1 / 512 ns) mod TRACE_SLOTS of one buffer; gpu_shutdown
// writes the slots in t1 order as a TSV (ns from the earliest; module by name). For finding where a CUDA graph's
// time goes under programmatic dependent launch, which per-launch events cannot see. The slots wrap after 2.1 s
// (a later launch overwrites): trace short runs.
enum { TRACE_SLOTS = 1 << 22, TRACE_SLOT_BYTES = 32 };
static CUdeviceptr trace_buf, utrace_buf;
enum { UTRACE_BYTES = 256 * 2048 * 128 };
static const char *trace_path;

static void trace_attach(CUmodule mod, int index, const char *name) {
    const char *path = getenv("QWEN3_TRACE");
    if (!path || !*path) return;
    CUdeviceptr p, q;
    size_t n;
    if (cuModuleGetGlobal(&p, &n, mod, "qwen3_trace") != CUDA_SUCCESS || n != 8 ||
        cuModuleGetGlobal(&q, &n, mod, "qwen3_trace_mod") != CUDA_SUCCESS)
        die("QWEN3_TRACE: cubin '%s' records no timeline (build with make TRACE=1: build/trace/...)", name);
    if (!trace_buf) {
        CU_CHECK(cuMemAlloc(&trace_buf, (size_t)TRACE_SLOTS * TRACE_SLOT_BYTES));
        CU_CHECK(cuMemsetD8(trace_buf, 0, (size_t)TRACE_SLOTS * TRACE_SLOT_BYTES));
        trace_path = path;
    }
    uint32_t id = (uint32_t)index;
    CU_CHECK(cuMemcpyHtoD(p, &trace_buf, 8));
    CU_CHECK(cuMemcpyHtoD(q, &id, 4));
    if (cuModuleGetGlobal(&p, &n, mod, "qwen3_utrace") != CUDA_SUCCESS || n != 8) return;  // not a GEMM module
    if (!utrace_buf) {
        CU_CHECK(cuMemAlloc(&utrace_buf, UTRACE_BYTES));
        CU_CHECK(cuMemsetD8(utrace_buf, 0, UTRACE_BYTES));
    }
    CU_CHECK(cuMemcpyHtoD(p, &utrace_buf, 8));
}

// The GEMMs' unit timeline (ptx/gemm_wg_body.h's UT_ macros): 256 regions (gridid % 256) x 2,048 records of 128 B;
// written to QWEN3_TRACE's path + ".units" as a TSV, times in ns from the earliest.
typedef struct {
    uint64_t gid;
    uint32_t u, cfg, smid, cta;
    uint64_t t[8];  // producer start, last load; consumer start, first slice, main loop, counter, sum, done
    uint32_t kt0, kt1, pad[8];
} UnitRec;
_Static_assert(sizeof(UnitRec) == 128, "a unit record is 128 bytes");
static void utrace_dump(void) {
    if (!utrace_buf) return;
    size_t n = UTRACE_BYTES / sizeof(UnitRec);
    UnitRec *r = malloc(UTRACE_BYTES);
    if (!r) die("QWEN3_TRACE: out of host memory");
    CU_CHECK(cuMemcpyDtoH(r, utrace_buf, UTRACE_BYTES));
    uint64_t base = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            if (r[i].cfg && r[i].t[k] && r[i].t[k] < base) base = r[i].t[k];
    char path[4096];
    snprintf(path, sizeof path, "%s.units", trace_path);
    FILE *f = fopen(path, "w");
    if (!f) die("QWEN3_TRACE: cannot write %s", path);
    fprintf(f, "gridid\tunit\tS\tncons\tcm\tbm\tbn\tsm\tcta\tkt0\tkt1\tp_start\tp_last\tc_start\tc_first\tc_main\t"
               "c_count\tc_sum\tc_done\n");
    for (size_t i = 0; i < n; i++) {
        const UnitRec *x = &r[i];
        if (!x->cfg) continue;
        fprintf(f, "%llu\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t%u", (unsigned long long)x->gid, x->u, x->cfg & 255,
                x->cfg >> 8 & 15, x->cfg >> 12 & 15, x->cfg >> 16 & 255, (x->cfg >> 24) * 8, x->smid, x->cta, x->kt0,
                x->kt1);
        for (int k = 0; k < 8; k++) fprintf(f, "\t%lld", x->t[k] ? (long long)(x->t[k] - base) : -1LL);
        fputc('\n', f);
    }
    if (fclose(f)) die("QWEN3_TRACE: writing %s failed", path);
    fprintf(stderr, "QWEN3_TRACE: GEMM units -> %s\n", path);
    free(r);
}

typedef struct { uint64_t t0, t1; uint32_t gid, mod, nx, ny_tx; } TraceRec;  // ptx/pdl.h's slot
_Static_assert(sizeof(TraceRec) == TRACE_SLOT_BYTES, "a trace slot is 32 bytes");
static int trace_cmp(const void *a, const void *b) {
    const TraceRec *x = a, *y = b;
    return x->t1 < y->t1 ? -1 : x->t1 > y->t1;
}
static void trace_dump(void) {
    if (!trace_buf) return;
    TraceRec *r = malloc((size_t)TRACE_SLOTS * sizeof *r);
    if (!r) die("QWEN3_TRACE: out of host memory");
    CU_CHECK(cuCtxSynchronize());
    CU_CHECK(cuMemcpyDtoH(r, trace_buf, (size_t)TRACE_SLOTS * sizeof *r));
    int n = 0;
    for (int i = 0; i < TRACE_SLOTS; i++)
        if (r[i].t1) r[n++] = r[i];
    qsort(r, (size_t)n, sizeof *r, trace_cmp);
    uint64_t base = n ? r[0].t1 : 0;
    for (int i = 0; i < n; i++)
        if (r[i].t0 && r[i].t0 < base) base = r[i].t0;
    FILE *f = fopen(trace_path, "w");
    if (!f) die("QWEN3_TRACE: cannot write %s", trace_path);
    fprintf(f, "t0_ns\tt1_ns\tgridid\tmodule\tgrid_x\tgrid_y\tthreads\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%llu\t%llu\t%u\t%s\t%u\t%u\t%u\n", (unsigned long long)(r[i].t0 - base),
                (unsigned long long)(r[i].t1 - base), r[i].gid,
                r[i].mod < (uint32_t)n_modules ? modules[r[i].mod].name : "?", r[i].nx, r[i].ny_tx >> 16,
                r[i].ny_tx & 0xffff);
    if (fclose(f)) die("QWEN3_TRACE: writing %s failed", trace_path);
    fprintf(stderr, "QWEN3_TRACE: %d launches -> %s\n", n, trace_path);
    free(r);  // the buffer stays (the modules keep its address): a later shutdown writes the file again, all in it
    utrace_dump();
}

static CUmodule load_module(Gpu *g, const char *name) {
    for (int i = 0; i < n_modules; i++)
        if (modules[i].ctx == g->ctx && !strcmp(modules[i].name, name)) return modules[i].mod;
    const EmbeddedCubin *c = embedded_cubins;
    while (c->name && strcmp(c->name, name)) c++;
    if (!c->name) die("no cubin '%s' in this build (expected ptx/%s.ptx)", name, name);
    // QWEN3_CUBIN_DIR: a module's cubin from DIR/NAME.cubin where that file exists (an A/B of two builds of one
    // kernel in one process: same entries, same parameters), else the embedded one
    const void *data = c->data;
    char *file = NULL;
    const char *dir = getenv("QWEN3_CUBIN_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cubin", dir, name);
        size_t n;
        char err[512];
        if ((file = read_file(path, &n, err, sizeof err))) {
            fprintf(stderr, "QWEN3_CUBIN_DIR: module '%s' from %s\n", name, path);
            data = file;
        }
    }
    char info[4096] = "", error[4096] = "";
    CUjit_option opt[] = { CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
                           CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES };
    void *val[] = { info, (void *)(uintptr_t)sizeof info, error, (void *)(uintptr_t)sizeof error };
    CUmodule mod;
    CUresult r = cuModuleLoadDataEx(&mod, data, 4, opt, val);
    free(file);
    if (r != CUDA_SUCCESS) {
        const char *en = "?";
        cuGetErrorName(r, &en);
        die("loading cubin '%s' failed: %s\n  error log: %s\n  info log: %s", name, en, error, info);
    }
    if (n_modules == MAX_MODULES) die("more than %d modules", MAX_MODULES);
    trace_attach(mod, n_modules, name);
    modules[n_modules].name = c->name;
    modules[n_modules].mod = mod;
    modules[n_modules].ctx = g->ctx;
    n_modules++;
    return mod;
}

unsigned gpu_module_u32_or(Gpu *g, const char *module, const char *name, unsigned missing) {
    CUmodule mod = load_module(g, module);
    CUdeviceptr p;
    size_t n;
    if (cuModuleGetGlobal(&p, &n, mod, name) != CUDA_SUCCESS || n != 4) return missing;
    unsigned v;
    CU_CHECK(cuMemcpyDtoH(&v, p, 4));
    return v;
}

unsigned gpu_module_u32(Gpu *g, const char *module, const char *name) {
    unsigned v = gpu_module_u32_or(g, module, name, 0xFFFFFFFFu);
    if (v == 0xFFFFFFFFu) die("cubin '%s' has no .u32 '%s'", module, name);
    return v;
}

CUfunction gpu_kernel(Gpu *g, const char *module, const char *entry) {
    CUmodule mod = load_module(g, module);
    CUfunction f;
    CUresult r = cuModuleGetFunction(&f, mod, entry);
    if (r != CUDA_SUCCESS) die("cubin '%s' has no kernel '%s'", module, entry);
    return f;
}

static void prof_free(Gpu *g);

// The primary context and the loaded modules stay for the life of the process (the driver frees them at exit):
// launchers cache their CUfunction per context, and a released-then-retained primary context can come back with
// the same handle but new modules, which would leave those caches pointing at unloaded code.
void gpu_shutdown(Gpu *g) {
    if (!g->ctx) return;
    if (g->prof_data) prof_free(g);
    CU_CHECK(cuStreamSynchronize(g->stream));
    trace_dump();
    CU_CHECK(cuStreamDestroy(g->stream));
    memset(g, 0, sizeof *g);
}

// ---------------------------------------------------------------- the launch profiler (QWEN3_PROFILE=2)
// Pending launches hold an event pair each; every PROF_PENDING launches (and at a report) the stream is synchronised
// and their times are added to the table. Events cost ~1-2 us of host time each, so a profiled run is slower on the
// host; the GPU times of the kernels themselves are what the table shows.
#define PROF_PENDING 2048
#define PROF_KEYS 256
typedef struct GpuProf {
    CUevent ev[PROF_PENDING][2];
    int key_of[PROF_PENDING], n_pending;
    struct { char key[96]; long calls; double ms; } keys[PROF_KEYS];
    int n_keys;
} GpuProf;

static void prof_flush(Gpu *g) {
    GpuProf *p = g->prof_data;
    if (!p || !p->n_pending) return;
    CU_CHECK(cuStreamSynchronize(g->stream));
    for (int i = 0; i < p->n_pending; i++) {
        float ms = 0;
        CU_CHECK(cuEventElapsedTime(&ms, p->ev[i][0], p->ev[i][1]));
        p->keys[p->key_of[i]].calls++;
        p->keys[p->key_of[i]].ms += ms;
    }
    p->n_pending = 0;
}

static void prof_begin(Gpu *g, const char *name) {
    GpuProf *p = g->prof_data;
    if (!p) {
        p = g->prof_data = xcalloc(1, sizeof *p);
        for (int i = 0; i < PROF_PENDING; i++)
            for (int j = 0; j < 2; j++) CU_CHECK(cuEventCreate(&p->ev[i][j], CU_EVENT_DEFAULT));
    }
    if (p->n_pending == PROF_PENDING) prof_flush(g);
    char key[96];
    snprintf(key, sizeof key, "%s/%s/%s", g->prof_phase ? g->prof_phase : "-", g->prof_tag ? g->prof_tag : "-", name);
    int k = 0;
    while (k < p->n_keys && strcmp(p->keys[k].key, key)) k++;
    if (k == p->n_keys) {
        if (k == PROF_KEYS) k = PROF_KEYS - 1;  // table full: the last row collects the rest
        else {
            snprintf(p->keys[k].key, sizeof p->keys[0].key, "%s", key);
            p->keys[k].calls = 0;
            p->keys[k].ms = 0;
            p->n_keys++;
        }
    }
    p->key_of[p->n_pending] = k;
    CU_CHECK(cuEventRecord(p->ev[p->n_pending][0], g->stream));
}

static void prof_end(Gpu *g) {
    GpuProf *p = g->prof_data;
    CU_CHECK(cuEventRecord(p->ev[p->n_pending++][1], g->stream));
}

static int prof_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;  // the first member of order[]'s rows
    return (x < y) - (x > y);
}

void gpu_prof_report(Gpu *g, FILE *f) {
    GpuProf *p = g->prof_data;
    if (!p) return;
    prof_flush(g);
    double total = 0;
    struct { double ms; int k; } order[PROF_KEYS];
    for (int k = 0; k < p->n_keys; k++) { order[k].ms = p->keys[k].ms; order[k].k = k; total += p->keys[k].ms; }
    qsort(order, (size_t)p->n_keys, sizeof order[0], prof_cmp);
    if (total <= 0) total = 1e-30;
    fprintf(f, "profile (QWEN3_PROFILE=2, GPU time of each launch; phase/layer/kernel): %.3f ms in all\n", total);
    fprintf(f, "  %-58s %8s %11s %10s %6s\n", "key", "calls", "total ms", "mean us", "%");
    for (int i = 0; i < p->n_keys; i++) {
        int k = order[i].k;
        fprintf(f, "  %-58s %8ld %11.3f %10.2f %5.1f%%\n", p->keys[k].key, p->keys[k].calls, p->keys[k].ms,
                1e3 * p->keys[k].ms / (double)p->keys[k].calls, 100 * p->keys[k].ms / total);
    }
    p->n_keys = 0;
}

static void prof_free(Gpu *g) {  // reports what is left, then frees
    gpu_prof_report(g, stderr);
    for (int i = 0; i < PROF_PENDING; i++)
        for (int j = 0; j < 2; j++) CU_CHECK(cuEventDestroy(g->prof_data->ev[i][j]));
    free(g->prof_data);
    g->prof_data = NULL;
}

// ---------------------------------------------------------------- launches
static void smem_opt_in(Gpu *g, CUfunction f, unsigned smem, const char *name) {
    if (smem <= 48 * 1024) return;
    if ((int)smem > g->max_smem_optin) die("%s wants %u bytes of shared memory; the device allows %d", name, smem,
                                           g->max_smem_optin);
    CU_CHECK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)smem));
}

int gpu_cluster_slots(Gpu *g, CUfunction f, Dim3 block, unsigned smem, unsigned cluster_x) {
    enum { SLOTS_CACHE = 16 };
    typedef struct { CUcontext ctx; CUfunction f; unsigned smem, cx; int n; } Slots;
    static Slots cache[SLOTS_CACHE];
    static int cached;
    for (int i = 0; i < cached; i++)
        if (cache[i].ctx == g->ctx && cache[i].f == f && cache[i].smem == smem && cache[i].cx == cluster_x)
            return cache[i].n;
    smem_opt_in(g, f, smem, "gpu_cluster_slots");
    int sms = g->sm_count > 0 ? g->sm_count : 132, n = 0;
    CUlaunchConfig cfg = { 0 };
    CUlaunchAttribute attr;
    attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr.value.clusterDim.x = cluster_x;
    attr.value.clusterDim.y = attr.value.clusterDim.z = 1;
    cfg.gridDimX = cluster_x * (unsigned)sms; cfg.gridDimY = cfg.gridDimZ = 1;
    cfg.blockDimX = block.x; cfg.blockDimY = block.y; cfg.blockDimZ = block.z;
    cfg.sharedMemBytes = smem;
    cfg.hStream = g->stream;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    CU_CHECK(cuOccupancyMaxActiveClusters(&n, f, &cfg));
    if (n < 1) die("gpu_cluster_slots: no cluster of %u CTAs (block %u, %u B of shared memory) fits this device",
                   cluster_x, block.x, smem);
    if (cached < SLOTS_CACHE) cache[cached++] = (Slots){ g->ctx, f, smem, cluster_x, n };
    return n;
}

void gpu_launch(Gpu *g, CUfunction f, Dim3 grid, Dim3 block, unsigned smem, const Dim3 *cluster, void **params,
                const char *name) {
    smem_opt_in(g, f, smem, name);  // once per function would do: the attribute is sticky
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // nothing to do (e.g. zero rows)
    CUlaunchConfig cfg = { 0 };
    CUlaunchAttribute attr[2];
    cfg.gridDimX = grid.x; cfg.gridDimY = grid.y; cfg.gridDimZ = grid.z;
    cfg.blockDimX = block.x; cfg.blockDimY = block.y; cfg.blockDimZ = block.z;
    cfg.sharedMemBytes = smem;
    cfg.hStream = g->stream;
    if (cluster) {
        attr[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
        attr[0].value.clusterDim.x = cluster->x;
        attr[0].value.clusterDim.y = cluster->y;
        attr[0].value.clusterDim.z = cluster->z;
        cfg.numAttrs = 1;
    }
    if (g->pdl) {
        attr[cfg.numAttrs].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        attr[cfg.numAttrs].value.programmaticStreamSerializationAllowed = 1;
        cfg.numAttrs++;
    }
    cfg.attrs = cfg.numAttrs ? attr : NULL;
    if (g->prof >= 2) prof_begin(g, name);
    CUresult r = cuLaunchKernelEx(&cfg, f, params, NULL);
    if (g->prof >= 2) prof_end(g);
    if (r != CUDA_SUCCESS) {
        const char *en = "?";
        cuGetErrorName(r, &en);
        die("launch of %s (grid %u,%u,%u block %u,%u,%u smem %u) failed: %s", name, grid.x, grid.y, grid.z, block.x,
            block.y, block.z, smem, en);
    }
    if (g->debug_sync) {
        r = cuStreamSynchronize(g->stream);
        if (r != CUDA_SUCCESS) {
            const char *en = "?";
            cuGetErrorName(r, &en);
            die("kernel %s failed: %s (QWEN3_DEBUG_SYNC)", name, en);
        }
    }
}

// ---------------------------------------------------------------- memory
CUdeviceptr gpu_alloc(Gpu *g, size_t bytes) {
    (void)g;
    CUdeviceptr p = 0;
    CUresult r = cuMemAlloc(&p, bytes ? bytes : 16);
    if (r != CUDA_SUCCESS) {
        size_t free_b = 0, total = 0;
        cuMemGetInfo(&free_b, &total);
        die("cannot allocate %.2f GiB on the GPU (%.2f GiB free of %.2f)", bytes / 1073741824.0, free_b / 1073741824.0,
            total / 1073741824.0);
    }
    return p;
}
void gpu_free(Gpu *g, CUdeviceptr p) { (void)g; if (p) CU_CHECK(cuMemFree(p)); }
// On g->stream, not the legacy stream: g->stream is non-blocking, and a plain cuMemcpyHtoD from pageable memory
// may return before its DMA lands, so a kernel launched next on g->stream could read the old contents (seen as
// sporadic GEMM test failures on an H200). The final sync makes the call synchronous as documented.
void gpu_upload(Gpu *g, CUdeviceptr dst, const void *src, size_t bytes) {
    CU_CHECK(cuMemcpyHtoDAsync(dst, src, bytes, g->stream));
    CU_CHECK(cuStreamSynchronize(g->stream));
}
void gpu_download(Gpu *g, void *dst, CUdeviceptr src, size_t bytes) {
    CU_CHECK(cuMemcpyDtoHAsync(dst, src, bytes, g->stream));
    CU_CHECK(cuStreamSynchronize(g->stream));
}
void gpu_fill_u32(Gpu *g, CUdeviceptr dst, uint32_t value, size_t count) {
    CU_CHECK(cuMemsetD32Async(dst, value, count, g->stream));
}
void gpu_sync(Gpu *g) { CU_CHECK(cuStreamSynchronize(g->stream)); }

// ---------------------------------------------------------------- arena
int gpu_arena_init(Gpu *g, GpuArena *a, size_t bytes, char *err, size_t errlen) {
    (void)g;
    size_t free_b = 0, total = 0;
    CU_CHECK(cuMemGetInfo(&free_b, &total));
    if (bytes > free_b) {
        snprintf(err, errlen, "needs %.2f GiB of GPU memory, %.2f GiB free of %.2f", bytes / 1073741824.0,
                 free_b / 1073741824.0, total / 1073741824.0);
        return -1;
    }
    a->size = bytes;
    a->used = 0;
    CUresult r = cuMemAlloc(&a->base, bytes ? bytes : 256);
    if (r != CUDA_SUCCESS) {
        const char *en = "?";
        cuGetErrorName(r, &en);
        snprintf(err, errlen, "allocating %.2f GiB on the GPU failed: %s", bytes / 1073741824.0, en);
        return -1;
    }
    return 0;
}
CUdeviceptr gpu_arena_alloc(GpuArena *a, size_t bytes) {
    size_t at = (a->used + 255) & ~(size_t)255;
    if (a->base && at + bytes > a->size) die("GPU arena overflow: %zu + %zu bytes > %zu", at, bytes, a->size);
    a->used = at + bytes;
    return a->base ? a->base + at : 0;
}
void gpu_arena_free(Gpu *g, GpuArena *a) {
    gpu_free(g, a->base);
    memset(a, 0, sizeof *a);
}

// ---------------------------------------------------------------- TMA
void gpu_tmap_2d(CUtensorMap *map, CUdeviceptr base, CUtensorMapDataType dtype, uint64_t rows, uint64_t cols,
                 uint64_t row_stride_bytes, uint32_t box_rows, uint32_t box_cols, CUtensorMapSwizzle swizzle) {
    cuuint64_t dims[2] = { cols, rows };              // innermost first
    cuuint64_t strides[1] = { row_stride_bytes };     // bytes, without the innermost
    cuuint32_t box[2] = { box_cols, box_rows };
    cuuint32_t estride[2] = { 1, 1 };
    CU_CHECK(cuTensorMapEncodeTiled(map, dtype, 2, (void *)base, dims, strides, box, estride,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
}

// ---------------------------------------------------------------- timing
void gpu_timer_init(GpuTimer *t) {
    CU_CHECK(cuEventCreate(&t->start, CU_EVENT_DEFAULT));
    CU_CHECK(cuEventCreate(&t->stop, CU_EVENT_DEFAULT));
}
void gpu_timer_start(Gpu *g, GpuTimer *t) { CU_CHECK(cuEventRecord(t->start, g->stream)); }
float gpu_timer_stop_ms(Gpu *g, GpuTimer *t) {
    float ms = 0;
    CU_CHECK(cuEventRecord(t->stop, g->stream));
    CU_CHECK(cuEventSynchronize(t->stop));
    CU_CHECK(cuEventElapsedTime(&ms, t->start, t->stop));
    return ms;
}
void gpu_timer_free(GpuTimer *t) {
    CU_CHECK(cuEventDestroy(t->start));
    CU_CHECK(cuEventDestroy(t->stop));
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}
double gpu_copy_bandwidth(Gpu *g) {
    size_t n = (size_t)1 << 30;
    CUdeviceptr a = gpu_alloc(g, n), b = gpu_alloc(g, n);
    gpu_fill_u32(g, a, 0x3F800000u, n / 4);
    GpuTimer t;
    gpu_timer_init(&t);
    float ms[8];
    for (int i = 0; i < 8; i++) {
        gpu_timer_start(g, &t);
        CU_CHECK(cuMemcpyDtoDAsync(b, a, n, g->stream));
        ms[i] = gpu_timer_stop_ms(g, &t);
    }
    qsort(ms + 1, 7, sizeof ms[0], cmp_float);  // ms[0] was the warm-up
    gpu_timer_free(&t);
    gpu_free(g, a);
    gpu_free(g, b);
    return 2.0 * n / (ms[4] * 1e-3);
}

// ---------------------------------------------------------------- bf16 on the host
uint16_t host_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays NaN
    u += 0x7FFFu + ((u >> 16) & 1);                                             // round to nearest even
    return (uint16_t)(u >> 16);
}
float host_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
