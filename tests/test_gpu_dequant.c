// test_gpu_dequant.c — weight upload (host/gpu_weights.c + ptx/dequant.ptx) for every GGUF type we read, against
// the CPU's dequantize_row (gguf/quants.c): bf16 output must equal f32_to_bf16(cpu value) bit for bit, f32 output
// must equal the cpu value bit for bit. Random blocks (random bytes, with finite f16 scales, some subnormal),
// destinations poisoned with NaN and one guard region past the end that must stay poisoned; tensors that cross
// staging-chunk boundaries at a small staging size; a run of small tensors back to back (the buffer alternation);
// one Q8_0 tensor larger than the default 64 MB staging, whose upload rate is printed.
// Without a Hopper GPU every case SKIPs with gpu_init's reason.
#include "gpu_test.h"
#include "../gguf/quants.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static const uint32_t types[] = { GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
                                  GGML_TYPE_Q5_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K };
enum { NTYPES = sizeof types / sizeof types[0], GUARD = 64 /* elements past the end that must stay poison */ };

// A finite f16 scale: mostly 1e-3..1e-1 of either sign, 1 in 16 a subnormal (|x| < 6.1e-5).
static uint16_t rand_scale(void) {
    double u = rng_uniform(&rng);
    float v = rng_u64(&rng) % 16 == 0 ? (float)(1e-6 + 5e-5 * u) : (float)exp(log(1e-3) + u * log(100.0));
    if (rng_u64(&rng) & 1) v = -v;
    return f32_to_f16(v);
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

// Random raw data of n elements of the given type (n a multiple of the block size).
static uint8_t *rand_tensor(uint32_t type, int64_t n, uint64_t *nbytes) {
    *nbytes = ggml_row_bytes(type, n);
    uint8_t *b = xmalloc(*nbytes);
    if (type == GGML_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) { float f = rng_normal(&rng); memcpy(b + 4 * i, &f, 4); }
        return b;
    }
    if (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            float f = rng_normal(&rng);
            put16(b + 2 * i, type == GGML_TYPE_F16 ? f32_to_f16(f) : f32_to_bf16(f));
        }
        return b;
    }
    for (uint64_t i = 0; i < *nbytes; i++) b[i] = (uint8_t)rng_u64(&rng);
    size_t bsz = ggml_type_size(type);
    for (uint8_t *blk = b; blk < b + *nbytes; blk += bsz) {
        switch (type) {
        case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0: put16(blk, rand_scale()); break;
        case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K:
            put16(blk, rand_scale());
            put16(blk + 2, rand_scale());
            break;
        case GGML_TYPE_Q6_K: put16(blk + 208, rand_scale()); break;
        default: break;
        }
    }
    return b;
}

// Uploads a (ne0 x ne1) tensor of the type both ways and compares bit for bit. Returns 0 on success.
static int check_upload(uint32_t type, int64_t ne0, int64_t ne1) {
    int64_t n = ne0 * ne1;
    uint64_t nbytes;
    uint8_t *raw = rand_tensor(type, n, &nbytes);
    GGUFTensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "test.%s.%lldx%lld", gguf_type_name(type), (long long)ne0, (long long)ne1);
    t.type = type;
    t.n_dims = 2;
    t.ne[0] = ne0; t.ne[1] = ne1; t.ne[2] = 1; t.ne[3] = 1;
    t.nbytes = nbytes;
    t.data = raw;
    float *ref = xmalloc((size_t)n * 4);
    dequantize_row(type, raw, ref, n);
    int fails = 0;

    // bf16
    CUdeviceptr d = gpu_alloc(&G, (size_t)(n + GUARD) * 4);
    gpu_fill_u32(&G, d, 0x7FC07FC0u, (size_t)(n + GUARD) / 2 + 1);
    gpu_upload_tensor_bf16(&G, d, &t);
    uint16_t *hb = xmalloc((size_t)(n + GUARD) * 2);
    gpu_download(&G, hb, d, (size_t)(n + GUARD) * 2);
    size_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t want = f32_to_bf16(ref[i]);
        if (hb[i] != want || !isfinite(ref[i])) {
            if (bad < 4) printf("  %s bf16[%lld]: got 0x%04x want 0x%04x (%.9g)\n", t.name, (long long)i, hb[i], want,
                                ref[i]);
            bad++;
        }
    }
    size_t over = 0;
    for (int i = 0; i < GUARD; i++) over += hb[n + i] != 0x7FC0;
    CHECK(bad == 0, "%s -> bf16: %zu of %lld elements differ", t.name, bad, (long long)n);
    CHECK(over == 0, "%s -> bf16: wrote past the end", t.name);
    fails += bad || over;

    // f32
    gpu_fill_u32(&G, d, 0x7FC00000u, (size_t)(n + GUARD));
    gpu_upload_tensor_f32(&G, d, &t);
    float *hf = xmalloc((size_t)(n + GUARD) * 4);
    gpu_download(&G, hf, d, (size_t)(n + GUARD) * 4);
    bad = over = 0;
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&hf[i], &ref[i], 4) || !isfinite(ref[i])) {
            if (bad < 4) printf("  %s f32[%lld]: got %.9g want %.9g\n", t.name, (long long)i, hf[i], ref[i]);
            bad++;
        }
    }
    for (int i = 0; i < GUARD; i++) over += !isnan(hf[n + i]);
    CHECK(bad == 0, "%s -> f32: %zu of %lld elements differ", t.name, bad, (long long)n);
    CHECK(over == 0, "%s -> f32: wrote past the end", t.name);
    fails += bad || over;

    gpu_free(&G, d);
    free(raw); free(ref); free(hb); free(hf);
    return fails;
}

static void every_type(void) {
    NEED_GPU();
    for (int i = 0; i < NTYPES; i++) {
        check_upload(types[i], 4096, 37);
        check_upload(types[i], 256, 1);
    }
}

static void plain_types_odd_length(void) {   // the scalar tail of F32/F16/BF16: n % 8 != 0
    NEED_GPU();
    for (int i = 0; i < 3; i++) {
        check_upload(types[i], 1003, 1);
        check_upload(types[i], 5, 3);
        check_upload(types[i], 1, 1);
    }
}

static void quant_types_odd_block_counts(void) {   // 32-element types with an odd number of blocks
    NEED_GPU();
    for (int i = 3; i < 6; i++) {
        check_upload(types[i], 32, 1);
        check_upload(types[i], 96, 7);
        check_upload(types[i], 1024 + 32, 3);
    }
}

static void chunk_boundaries(void) {
    NEED_GPU();
    // staging of 64 KB + 1000 bytes: every type's chunk is a few dozen units and no tensor below is a multiple
    gpu_upload_set_staging(64 * 1024 + 1000);
    for (int i = 0; i < NTYPES; i++) {
        check_upload(types[i], 1024, 197);
        check_upload(types[i], 4096, 3);
    }
    gpu_upload_free(&G);
    gpu_upload_set_staging(0);
}

static void many_small_tensors(void) {   // back to back, buffer pairs alternating, only one final download each
    NEED_GPU();
    enum { NT = 40 };
    GGUFTensor t[NT];
    uint8_t *raw[NT];
    CUdeviceptr d[NT];
    for (int k = 0; k < NT; k++) {
        uint32_t type = types[k % NTYPES];
        int64_t n = 256 * (1 + (int64_t)(rng_u64(&rng) % 24));
        memset(&t[k], 0, sizeof t[k]);
        snprintf(t[k].name, sizeof t[k].name, "small.%d.%s", k, gguf_type_name(type));
        t[k].type = type;
        t[k].n_dims = 1;
        t[k].ne[0] = n; t[k].ne[1] = t[k].ne[2] = t[k].ne[3] = 1;
        raw[k] = rand_tensor(type, n, &t[k].nbytes);
        t[k].data = raw[k];
        d[k] = gpu_alloc(&G, (size_t)n * 4);
        gpu_fill_u32(&G, d[k], 0x7FC00000u, (size_t)n);
    }
    for (int k = 0; k < NT; k++) gpu_upload_tensor_f32(&G, d[k], &t[k]);
    size_t bad = 0;
    for (int k = 0; k < NT; k++) {
        int64_t n = t[k].ne[0];
        float *ref = xmalloc((size_t)n * 4), *got = xmalloc((size_t)n * 4);
        dequantize_row(t[k].type, raw[k], ref, n);
        gpu_download(&G, got, d[k], (size_t)n * 4);
        for (int64_t i = 0; i < n; i++) bad += memcmp(&got[i], &ref[i], 4) != 0;
        free(ref); free(got); free(raw[k]);
        gpu_free(&G, d[k]);
    }
    CHECK(bad == 0, "%zu elements differ over %d small tensors uploaded back to back", bad, NT);
}

static void large_q8_0(void) {   // larger than the default 64 MB staging; prints the upload rate
    NEED_GPU();
    gpu_upload_free(&G);
    check_upload(GGML_TYPE_Q8_0, 256, 1);   // allocates the staging buffers outside the timing
    int64_t ne0 = 4096, ne1 = 17000, n = ne0 * ne1;
    uint64_t nbytes;
    uint8_t *raw = rand_tensor(GGML_TYPE_Q8_0, n, &nbytes);
    GGUFTensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "large.q8_0");
    t.type = GGML_TYPE_Q8_0; t.n_dims = 2;
    t.ne[0] = ne0; t.ne[1] = ne1; t.ne[2] = t.ne[3] = 1;
    t.nbytes = nbytes; t.data = raw;
    CUdeviceptr d = gpu_alloc(&G, (size_t)(n + GUARD) * 2);
    gpu_fill_u32(&G, d, 0x7FC07FC0u, (size_t)(n + GUARD) / 2);
    gpu_sync(&G);
    double t0 = now_sec();
    gpu_upload_tensor_bf16(&G, d, &t);
    gpu_sync(&G);
    double dt = now_sec() - t0;
    printf("  upload %s: %.1f MB raw in %.1f ms = %.2f GB/s (source in malloc'd memory, %d threads)\n", t.name,
           nbytes / 1e6, dt * 1e3, nbytes / dt / 1e9, n_threads());
    float *ref = xmalloc((size_t)n * 4);
    dequantize_row(GGML_TYPE_Q8_0, raw, ref, n);
    uint16_t *hb = xmalloc((size_t)(n + GUARD) * 2);
    gpu_download(&G, hb, d, (size_t)(n + GUARD) * 2);
    size_t bad = 0, over = 0;
    for (int64_t i = 0; i < n; i++) bad += hb[i] != f32_to_bf16(ref[i]);
    for (int i = 0; i < GUARD; i++) over += hb[n + i] != 0x7FC0;
    CHECK(bad == 0, "large Q8_0: %zu of %lld elements differ", bad, (long long)n);
    CHECK(over == 0, "large Q8_0: wrote past the end");
    gpu_free(&G, d);
    free(raw); free(ref); free(hb);
}

// The engine's case: a Q8_0 tensor in a file that sits in the page cache, mmapped (just written, so cached; pages
// not yet mapped into this process, as after gguf_open). Prints the effective rate (target >= 5 GB/s) and checks
// the first and last 4096 elements and 30 random windows against the CPU.
static void upload_rate_from_page_cache(void) {
    NEED_GPU();
    int64_t ne0 = 4096, ne1 = 131072, n = ne0 * ne1;    // 512 Mi elements = 544 MB of Q8_0
    uint64_t nbytes = ggml_row_bytes(GGML_TYPE_Q8_0, n);
    char path[] = "/tmp/qwen3-ptx-upload-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) SKIP("cannot create a temporary file in /tmp");
    unlink(path);
    enum { PIECE = 1 << 20 };
    uint8_t *buf = xmalloc(PIECE * 34);
    for (uint64_t done = 0; done < nbytes;) {
        uint64_t blocks = (nbytes - done) / 34 < PIECE ? (nbytes - done) / 34 : PIECE;
        for (uint64_t b = 0; b < blocks; b++) {
            uint8_t *blk = buf + b * 34;
            uint64_t r0 = rng_u64(&rng), r1 = rng_u64(&rng), r2 = rng_u64(&rng), r3 = rng_u64(&rng);
            memcpy(blk + 2, &r0, 8); memcpy(blk + 10, &r1, 8); memcpy(blk + 18, &r2, 8); memcpy(blk + 26, &r3, 8);
            put16(blk, rand_scale());
        }
        if (write(fd, buf, blocks * 34) != (ssize_t)(blocks * 34)) { close(fd); free(buf); SKIP("short write to /tmp"); }
        done += blocks * 34;
    }
    free(buf);
    const uint8_t *map = mmap(NULL, nbytes, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) SKIP("cannot mmap the temporary file");
    GGUFTensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "pagecache.q8_0");
    t.type = GGML_TYPE_Q8_0; t.n_dims = 2;
    t.ne[0] = ne0; t.ne[1] = ne1; t.ne[2] = t.ne[3] = 1;
    t.nbytes = nbytes; t.data = map;
    CUdeviceptr d = gpu_alloc(&G, (size_t)n * 2);
    check_upload(GGML_TYPE_Q8_0, 256, 1);   // staging allocated outside the timing
    gpu_sync(&G);
    double t0 = now_sec();
    gpu_upload_tensor_bf16(&G, d, &t);
    gpu_sync(&G);
    double dt = now_sec() - t0;
    printf("  upload %s: %.0f MB raw from the page cache (mmap) in %.1f ms = %.2f GB/s (%d threads)\n", t.name,
           nbytes / 1e6, dt * 1e3, nbytes / dt / 1e9, n_threads());
    enum { W = 4096 };
    float ref[W];
    uint16_t got[W];
    size_t bad = 0;
    for (int k = 0; k < 32; k++) {
        int64_t e0 = k == 0 ? 0 : k == 1 ? n - W : (int64_t)(rng_u64(&rng) % (uint64_t)(n / W)) * W;
        dequantize_row(GGML_TYPE_Q8_0, map + ggml_row_bytes(GGML_TYPE_Q8_0, e0), ref, W);
        gpu_download(&G, got, d + (CUdeviceptr)e0 * 2, sizeof got);
        for (int i = 0; i < W; i++) bad += got[i] != f32_to_bf16(ref[i]);
    }
    CHECK(bad == 0, "%zu of %d checked elements differ", bad, 32 * W);
    gpu_free(&G, d);
    munmap((void *)map, nbytes);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(every_type);
    RUN(plain_types_odd_length);
    RUN(quant_types_odd_block_counts);
    RUN(chunk_boundaries);
    RUN(many_small_tensors);
    RUN(large_q8_0);
    RUN(upload_rate_from_page_cache);
    gpu_test_end();
    return test_end();
}
