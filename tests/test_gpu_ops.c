// test_gpu_ops.c — the element-wise kernels of the forward pass (embed, rmsnorm and its FP8 form, qk-norm + RoPE +
// KV write, swiglu, argmax) against fp64 CPU references on Qwen3 0.6B / 8B / 14B shapes (dim 1024, 4096, 5120; head_dim
// 128 with 16/8, 32/8, 64/8 heads; vocab 151936; T = 1, 7, 64, 300; positions up to 32768). Outputs are poisoned
// with NaN before each launch and one extra row past the end must stay poisoned, so an unwritten or overrun
// element fails. bf16 outputs: per element |got - ref| <= 1e-2 |ref| (+ a floor where a rotation can cancel), and
// relative error over the array <= 4e-3. Then prints timings (not asserted).
// Without a Hopper GPU every case SKIPs with gpu_init's reason.
#include "gpu_test.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"

static const int Ts[] = { 1, 7, 64, 300 };
enum { NT = sizeof Ts / sizeof Ts[0] };
#define BF16_NAN2 0x7FC07FC0u   // two bf16 NaNs per 32-bit word
#define F32_NAN 0x7FC00000u

static CUdeviceptr upload_new(const void *h, size_t bytes) {
    CUdeviceptr d = gpu_alloc(&G, bytes);
    gpu_upload(&G, d, h, bytes);
    return d;
}
static float *download_bf16(CUdeviceptr d, size_t n) {  // as floats
    uint16_t *h = xmalloc(n * 2);
    float *f = xmalloc(n * 4);
    gpu_download(&G, h, d, n * 2);
    for (size_t i = 0; i < n; i++) f[i] = host_bf16_to_f32(h[i]);
    free(h);
    return f;
}
static int all_nan(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isnan(x[i])) return 0;
    return 1;
}

// Per element |got - ref| <= tol |ref| + floor_abs (NaN fails); then the relative error over all n must be <=
// norm_tol. Prints the first few offenders.
static void check_close(const char *what, const float *got, const double *ref, size_t n, double tol,
                        double floor_abs, double norm_tol) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= tol * fabs(ref[i]) + floor_abs)) {   // false for NaN
            if (bad < 4) printf("  %s[%zu]: got %.9g want %.9g\n", what, i, got[i], ref[i]);
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu elements out of tolerance", what, bad, n);
    double e = rel_err(got, ref, n);
    CHECK(e <= norm_tol, "%s: relative error %.3g > %.3g", what, e, norm_tol);
}

// ---------------------------------------------------------------- embed
static void embed_one(int vocab, int dim, int T) {
    size_t tab = (size_t)vocab * dim;
    uint16_t *emb = xmalloc(tab * 2);
    for (size_t i = 0; i < tab; i++) emb[i] = host_f32_to_bf16(rng_normal(&rng));
    int32_t *tok = xmalloc((size_t)T * 4);
    for (int t = 0; t < T; t++) tok[t] = (int32_t)(rng_u64(&rng) % (uint64_t)vocab);
    tok[0] = vocab - 1;                 // the last row: 64-bit offsets
    if (T > 1) tok[T - 1] = 0;
    CUdeviceptr d_emb = upload_new(emb, tab * 2), d_tok = upload_new(tok, (size_t)T * 4);
    CUdeviceptr d_x = gpu_alloc(&G, (size_t)(T + 1) * dim * 4);
    gpu_fill_u32(&G, d_x, F32_NAN, (size_t)(T + 1) * dim);
    launch_embed(&G, d_x, d_emb, d_tok, T, dim);
    float *x = xmalloc((size_t)(T + 1) * dim * 4);
    gpu_download(&G, x, d_x, (size_t)(T + 1) * dim * 4);
    size_t bad = 0;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < dim; j++) {
            float want = host_bf16_to_f32(emb[(size_t)tok[t] * dim + j]);
            if (memcmp(&x[(size_t)t * dim + j], &want, 4)) bad++;
        }
    CHECK(bad == 0, "embed vocab=%d dim=%d T=%d: %zu elements differ", vocab, dim, T, bad);
    CHECK(all_nan(x + (size_t)T * dim, dim), "embed dim=%d T=%d wrote past the last row", dim, T);
    gpu_free(&G, d_emb); gpu_free(&G, d_tok); gpu_free(&G, d_x);
    free(emb); free(tok); free(x);
}

static void embed_shapes(void) {
    NEED_GPU();
    for (int i = 0; i < NT; i++) embed_one(151936, 1024, Ts[i]);   // the real 0.6B table
    static const int dims[] = { 4096, 5120 };
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < NT; i++) embed_one(3001, dims[d], Ts[i]);
}

// ---------------------------------------------------------------- rmsnorm
// n_rows outputs; with gather, from a larger input through a random row list (repeats allowed).
static void rmsnorm_one(int dim, int T, int gather) {
    int n_in = gather ? T + 5 : T, n_rows = T;
    float *in = xmalloc((size_t)n_in * dim * 4), *w = xmalloc((size_t)dim * 4);
    for (int r = 0; r < n_in; r++) {
        float scale = (float)exp(4.0 * rng_uniform(&rng) - 2.0);   // rows of very different size
        for (int j = 0; j < dim; j++) in[(size_t)r * dim + j] = scale * rng_normal(&rng);
    }
    for (int j = 0; j < dim; j++) w[j] = 1.0f + 0.5f * rng_normal(&rng);
    int32_t *rows = xmalloc((size_t)n_rows * 4);
    for (int r = 0; r < n_rows; r++) rows[r] = gather ? (int32_t)(rng_u64(&rng) % (uint64_t)n_in) : r;
    if (gather) rows[0] = n_in - 1;
    float eps = 1e-6f;
    CUdeviceptr d_in = upload_new(in, (size_t)n_in * dim * 4), d_w = upload_new(w, (size_t)dim * 4);
    CUdeviceptr d_rows = gather ? upload_new(rows, (size_t)n_rows * 4) : 0;
    CUdeviceptr d_out = gpu_alloc(&G, (size_t)(n_rows + 1) * dim * 2);
    gpu_fill_u32(&G, d_out, BF16_NAN2, (size_t)(n_rows + 1) * dim / 2);
    launch_rmsnorm(&G, d_out, d_in, d_w, d_rows, n_rows, dim, eps);
    float *out = download_bf16(d_out, (size_t)(n_rows + 1) * dim);
    double *ref = xmalloc((size_t)n_rows * dim * 8);
    for (int r = 0; r < n_rows; r++) {
        const float *x = in + (size_t)rows[r] * dim;
        double ss = 0;
        for (int j = 0; j < dim; j++) ss += (double)x[j] * x[j];
        double rs = 1.0 / sqrt(ss / dim + eps);
        for (int j = 0; j < dim; j++) ref[(size_t)r * dim + j] = x[j] * rs * w[j];
    }
    char what[64];
    snprintf(what, sizeof what, "rmsnorm dim=%d T=%d%s", dim, T, gather ? " gather" : "");
    check_close(what, out, ref, (size_t)n_rows * dim, 1e-2, 1e-30, 4e-3);
    CHECK(all_nan(out + (size_t)n_rows * dim, dim), "%s wrote past the last row", what);
    gpu_free(&G, d_in); gpu_free(&G, d_w); gpu_free(&G, d_rows); gpu_free(&G, d_out);
    free(in); free(w); free(rows); free(out); free(ref);
}

static void rmsnorm_shapes(void) {
    NEED_GPU();
    static const int dims[] = { 1024, 4096, 5120, 8192, 2052 /* not a multiple of 1024: partial vectors */, 128 };
    for (int d = 0; d < 6; d++)
        for (int i = 0; i < NT; i++) rmsnorm_one(dims[d], Ts[i], 0);
}

static void rmsnorm_row_gather(void) {
    NEED_GPU();
    for (int i = 0; i < NT; i++) rmsnorm_one(4096, Ts[i], 1);
    rmsnorm_one(1024, 3, 1);
}

// The fused FP8 form (launch_rmsnorm_fp8) must equal, byte for byte, what the unfused pair makes: launch_rmsnorm
// (checked against fp64 above) then launch_quant_act_fp8 (checked against a host e4m3 encoder in test_gpu_fp8.c).
// Rows of very different size, row gather, a poisoned row past the end (e4m3 0x7F is NaN; scales NaN).
static void rmsnorm_fp8_one(int dim, int T, int gather) {
    int n_in = gather ? T + 5 : T, KB = dim / 128;
    float *in = xmalloc((size_t)n_in * dim * 4), *w = xmalloc((size_t)dim * 4);
    for (int r = 0; r < n_in; r++) {
        float scale = (float)exp(8.0 * rng_uniform(&rng) - 4.0);
        for (int j = 0; j < dim; j++) in[(size_t)r * dim + j] = scale * rng_normal(&rng);
    }
    for (int j = 0; j < dim; j++) w[j] = 1.0f + 0.5f * rng_normal(&rng);
    if (dim >= 256) for (int j = 128; j < 256; j++) w[j] = 0;  // an all-zero group: scale 1
    int32_t *rows = xmalloc((size_t)T * 4);
    for (int r = 0; r < T; r++) rows[r] = gather ? (int32_t)(rng_u64(&rng) % (uint64_t)n_in) : r;
    CUdeviceptr d_in = upload_new(in, (size_t)n_in * dim * 4), d_w = upload_new(w, (size_t)dim * 4);
    CUdeviceptr d_rows = gather ? upload_new(rows, (size_t)T * 4) : 0, d_h = gpu_alloc(&G, (size_t)T * dim * 2);
    CUdeviceptr q[2], sc[2];  // 0: fused, 1: rmsnorm + quantiser
    for (int i = 0; i < 2; i++) {
        q[i] = gpu_alloc(&G, (size_t)(T + 1) * dim);
        sc[i] = gpu_alloc(&G, (size_t)(T + 1) * KB * 4);
        gpu_fill_u32(&G, q[i], 0x7F7F7F7Fu, (size_t)(T + 1) * dim / 4);
        gpu_fill_u32(&G, sc[i], F32_NAN, (size_t)(T + 1) * KB);
    }
    launch_rmsnorm_fp8(&G, q[0], sc[0], d_in, d_w, d_rows, T, dim, 1e-6f);
    launch_rmsnorm(&G, d_h, d_in, d_w, d_rows, T, dim, 1e-6f);
    launch_quant_act_fp8(&G, q[1], sc[1], d_h, T, dim);
    uint8_t *hq[2];
    float *hs[2];
    for (int i = 0; i < 2; i++) {
        hq[i] = xmalloc((size_t)(T + 1) * dim);
        hs[i] = xmalloc((size_t)(T + 1) * KB * 4);
        gpu_download(&G, hq[i], q[i], (size_t)(T + 1) * dim);
        gpu_download(&G, hs[i], sc[i], (size_t)(T + 1) * KB * 4);
    }
    size_t bad_q = 0, bad_s = 0, past = 0;
    for (size_t i = 0; i < (size_t)T * dim; i++) bad_q += hq[0][i] != hq[1][i];
    for (size_t i = 0; i < (size_t)T * KB; i++) bad_s += !(hs[0][i] == hs[1][i]);  // NaN: unwritten
    for (size_t i = (size_t)T * dim; i < (size_t)(T + 1) * dim; i++) past += hq[0][i] != 0x7F;
    for (size_t i = (size_t)T * KB; i < (size_t)(T + 1) * KB; i++) past += !isnan(hs[0][i]);
    CHECK(bad_q == 0 && bad_s == 0, "rmsnorm_fp8 dim=%d T=%d%s: %zu of %zu bytes, %zu of %zu scales differ from "
          "rmsnorm + quant_act_fp8", dim, T, gather ? " gather" : "", bad_q, (size_t)T * dim, bad_s, (size_t)T * KB);
    CHECK(past == 0, "rmsnorm_fp8 dim=%d T=%d wrote past the last row", dim, T);
    for (int i = 0; i < 2; i++) { gpu_free(&G, q[i]); gpu_free(&G, sc[i]); free(hq[i]); free(hs[i]); }
    gpu_free(&G, d_in); gpu_free(&G, d_w); gpu_free(&G, d_rows); gpu_free(&G, d_h);
    free(in); free(w); free(rows);
}

static void rmsnorm_fp8_shapes(void) {
    NEED_GPU();
    static const int dims[] = { 1024, 4096, 5120, 8192, 128, 2560 };
    for (int d = 0; d < 6; d++)
        for (int i = 0; i < NT; i++) rmsnorm_fp8_one(dims[d], Ts[i], i == 2);
}

// ---------------------------------------------------------------- qk-norm + RoPE + KV write
enum { HD = 128, MAX_SEQS = 2, MAX_CTX = 32800, MAX_PAGES = (MAX_CTX + 63) / 64 };
// The paged cache (gpu_ops.h): the block table maps slot s's page j to page MAX_SEQS*MAX_PAGES-1 - (s*MAX_PAGES + j)
// (reversed, so that a kernel ignoring the table writes the wrong rows); row of (slot, kv head, pos) in the pool:
static size_t kv_row(int slot, int n_kv, int h, int pos) {
    size_t page = (size_t)MAX_SEQS * MAX_PAGES - 1 - ((size_t)slot * MAX_PAGES + pos / 64);
    return ((page * n_kv + h) * 64 + pos % 64) * HD;
}

// in16: qkv in bf16 (the _b16 entries; the reference reads the same bf16 values)
static void rope_one(int n_head, int n_kv, int T, float base, int in16) {
    int H = n_head + 2 * n_kv;
    float eps = 1e-6f;
    size_t nqkv = (size_t)T * H * HD;
    float *qkv = xmalloc(nqkv * 4), *qn = xmalloc(HD * 4), *kn = xmalloc(HD * 4);
    uint16_t *qkv16 = xmalloc(nqkv * 2);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            float scale = (float)exp(3.0 * rng_uniform(&rng) - 1.5);
            for (size_t i = ((size_t)t * H + h) * HD, e = i + HD; i < e; i++) {
                qkv[i] = scale * rng_normal(&rng);
                qkv16[i] = host_f32_to_bf16(qkv[i]);
                if (in16) qkv[i] = host_bf16_to_f32(qkv16[i]);
            }
        }
    for (int i = 0; i < HD; i++) { qn[i] = 1.0f + 0.5f * rng_normal(&rng); kn[i] = 1.0f + 0.5f * rng_normal(&rng); }
    // distinct (slot, pos) per token, positions over the whole range, the extremes included
    int32_t *slot = xmalloc((size_t)T * 4), *pos = xmalloc((size_t)T * 4);
    for (int t = 0; t < T; t++) {
        for (;;) {
            slot[t] = (int32_t)(rng_u64(&rng) % MAX_SEQS);
            pos[t] = t == 0 ? 32768 : t == 1 ? 0 : t == 2 ? 1 : (int32_t)(rng_u64(&rng) % 32769);
            int dup = 0;
            for (int u = 0; u < t; u++) dup |= slot[u] == slot[t] && pos[u] == pos[t];
            if (!dup) break;
        }
    }
    CUdeviceptr d_qkv = in16 ? upload_new(qkv16, nqkv * 2) : upload_new(qkv, nqkv * 4);
    CUdeviceptr d_qn = upload_new(qn, HD * 4), d_kn = upload_new(kn, HD * 4);
    CUdeviceptr d_slot = upload_new(slot, (size_t)T * 4), d_pos = upload_new(pos, (size_t)T * 4);
    size_t nq = (size_t)T * n_head * HD, ncache = (size_t)MAX_SEQS * MAX_PAGES * n_kv * 64 * HD;
    int32_t *table = xmalloc(MAX_SEQS * MAX_PAGES * 4);
    for (int i = 0; i < MAX_SEQS * MAX_PAGES; i++) table[i] = MAX_SEQS * MAX_PAGES - 1 - i;
    CUdeviceptr d_table = upload_new(table, MAX_SEQS * MAX_PAGES * 4);
    free(table);
    CUdeviceptr d_q = gpu_alloc(&G, (nq + HD) * 2);
    CUdeviceptr d_k = gpu_alloc(&G, ncache * 2), d_v = gpu_alloc(&G, ncache * 2);
    gpu_fill_u32(&G, d_q, BF16_NAN2, (nq + HD) / 2);
    gpu_fill_u32(&G, d_k, BF16_NAN2, ncache / 2);
    gpu_fill_u32(&G, d_v, BF16_NAN2, ncache / 2);
    int tok_was = rope_tok_min(0);  // one warp a head here; the per-token entry below must give the same bytes
    launch_qknorm_rope_kv(&G, d_q, d_k, d_v, d_qkv, in16, d_qn, d_kn, d_table, d_slot, d_pos, T, n_head, n_kv, HD,
                          MAX_PAGES, base, eps);
    float *q = download_bf16(d_q, nq + HD);
    uint16_t *kc = xmalloc(ncache * 2), *vc = xmalloc(ncache * 2);
    gpu_download(&G, kc, d_k, ncache * 2);
    gpu_download(&G, vc, d_v, ncache * 2);
    {
        uint16_t *q0 = xmalloc((nq + HD) * 2), *q1 = xmalloc((nq + HD) * 2), *c1 = xmalloc(ncache * 2);
        gpu_download(&G, q0, d_q, (nq + HD) * 2);
        gpu_fill_u32(&G, d_q, BF16_NAN2, (nq + HD) / 2);
        gpu_fill_u32(&G, d_k, BF16_NAN2, ncache / 2);
        gpu_fill_u32(&G, d_v, BF16_NAN2, ncache / 2);
        rope_tok_min(1);
        launch_qknorm_rope_kv(&G, d_q, d_k, d_v, d_qkv, in16, d_qn, d_kn, d_table, d_slot, d_pos, T, n_head, n_kv,
                              HD, MAX_PAGES, base, eps);
        gpu_download(&G, q1, d_q, (nq + HD) * 2);
        int same = !memcmp(q0, q1, (nq + HD) * 2);
        gpu_download(&G, c1, d_k, ncache * 2);
        same &= !memcmp(kc, c1, ncache * 2);
        gpu_download(&G, c1, d_v, ncache * 2);
        same &= !memcmp(vc, c1, ncache * 2);
        CHECK(same, "rope heads=%d/%d T=%d%s: the per-token entry's q / k / v bytes differ from one warp a head's",
              n_head, n_kv, T, in16 ? " bf16 in" : "");
        free(q0); free(q1); free(c1);
    }
    rope_tok_min(tok_was);

    // fp64 reference for q and k heads; v must be exactly bf16(x)
    double *qref = xmalloc(nq * 8), *kref = xmalloc((size_t)T * n_kv * HD * 8);
    float *kgot = xmalloc((size_t)T * n_kv * HD * 4);
    double floor_abs = 0;
    size_t v_bad = 0;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_head + n_kv; h++) {
            const float *x = qkv + ((size_t)t * H + h) * HD;
            const float *w = h < n_head ? qn : kn;
            double y[HD], ss = 0;
            for (int i = 0; i < HD; i++) ss += (double)x[i] * x[i];
            double rs = 1.0 / sqrt(ss / HD + eps);
            for (int i = 0; i < HD; i++) y[i] = x[i] * rs * w[i];
            double *o = h < n_head ? qref + ((size_t)t * n_head + h) * HD
                                   : kref + ((size_t)t * n_kv + (h - n_head)) * HD;
            for (int i = 0; i < HD / 2; i++) {
                double th = pos[t] * pow((double)base, -2.0 * i / HD), c = cos(th), s = sin(th);
                o[i] = y[i] * c - y[i + HD / 2] * s;
                o[i + HD / 2] = y[i + HD / 2] * c + y[i] * s;
            }
            if (h >= n_head) {
                size_t row = kv_row(slot[t], n_kv, h - n_head, pos[t]);
                for (int i = 0; i < HD; i++) kgot[((size_t)t * n_kv + (h - n_head)) * HD + i] = host_bf16_to_f32(kc[row + i]);
            }
        }
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_kv; h++) {
            const float *x = qkv + ((size_t)t * H + n_head + n_kv + h) * HD;
            size_t row = kv_row(slot[t], n_kv, h, pos[t]);
            for (int i = 0; i < HD; i++) v_bad += vc[row + i] != host_f32_to_bf16(x[i]);
        }
    // A rotated element can cancel to near zero while the f32 error stays ~1e-6 of the head's size: per element
    // the floor is 1e-4 of the head's rms (the rotation keeps the norm).
    char what[96];
    for (int part = 0; part < 2; part++) {
        const double *ref = part ? kref : qref;
        const float *got = part ? kgot : q;
        int nh = part ? n_kv : n_head;
        size_t bad = 0;
        for (size_t r = 0; r < (size_t)T * nh; r++) {
            double rms = 0;
            for (int i = 0; i < HD; i++) rms += ref[r * HD + i] * ref[r * HD + i];
            rms = sqrt(rms / HD);
            floor_abs = 1e-4 * rms;
            for (int i = 0; i < HD; i++) {
                double d = fabs((double)got[r * HD + i] - ref[r * HD + i]);
                if (!(d <= 1e-2 * fabs(ref[r * HD + i]) + floor_abs)) {
                    if (bad < 4) printf("  %s t=%zu head=%zu i=%d pos=%d: got %.9g want %.9g\n", part ? "k" : "q",
                                        r / nh, r % nh, i, pos[r / nh], got[r * HD + i], ref[r * HD + i]);
                    bad++;
                }
            }
        }
        snprintf(what, sizeof what, "rope %s heads=%d/%d T=%d base=%g%s", part ? "k" : "q", n_head, n_kv, T, base,
                 in16 ? " bf16 in" : "");
        CHECK(bad == 0, "%s: %zu elements out of tolerance", what, bad);
        double e = rel_err(got, ref, (size_t)T * nh * HD);
        CHECK(e <= 4e-3, "%s: relative error %.3g", what, e);
    }
    CHECK(v_bad == 0, "rope v heads=%d/%d T=%d: %zu elements differ from bf16(x)", n_head, n_kv, T, v_bad);
    CHECK(all_nan(q + nq, HD), "rope wrote past the last q row");
    // every cache row that no token owns must still be poison
    size_t rows = ncache / HD, stray = 0;
    uint8_t *mine = xcalloc(rows, 1);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_kv; h++) mine[kv_row(slot[t], n_kv, h, pos[t]) / HD] = 1;  // the paged row
    for (size_t r = 0; r < rows; r++) {
        if (mine[r]) continue;
        for (int i = 0; i < HD; i++) stray += (kc[r * HD + i] != 0x7FC0) + (vc[r * HD + i] != 0x7FC0);
    }
    CHECK(stray == 0, "rope heads=%d/%d T=%d: %zu cache elements written outside the tokens' rows", n_head, n_kv, T,
          stray);
    gpu_free(&G, d_qkv); gpu_free(&G, d_qn); gpu_free(&G, d_kn); gpu_free(&G, d_slot); gpu_free(&G, d_pos);
    gpu_free(&G, d_q); gpu_free(&G, d_k); gpu_free(&G, d_v); gpu_free(&G, d_table);
    free(qkv); free(qkv16); free(qn); free(kn); free(slot); free(pos); free(q); free(kc); free(vc);
    free(qref); free(kref); free(kgot); free(mine);
}

static void rope_shapes(void) {
    NEED_GPU();
    static const int heads[][2] = { { 16, 8 }, { 32, 8 }, { 64, 8 } };
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < NT; i++)
            for (int in16 = 0; in16 < 2; in16++) rope_one(heads[c][0], heads[c][1], Ts[i], 1e6f, in16);
}

static void rope_other_bases(void) {
    NEED_GPU();
    rope_one(16, 8, 64, 10000.0f, 0);
    rope_one(32, 8, 7, 5e6f, 1);
    rope_one(14, 2, 5, 1e6f, 0);   // head count not a multiple of the 4 warps per CTA
    rope_one(14, 2, 5, 1e6f, 1);
    rope_one(40, 8, 300, 1e6f, 0);  // the 14B's heads: 56 of them, a partial last round of the per-token entry's 16
    rope_one(40, 8, 300, 1e6f, 1);
}

// ---------------------------------------------------------------- swiglu
static void swiglu_one(int ffn, int T) {
    size_t n = (size_t)T * ffn;
    float *gu = xmalloc(2 * n * 4);
    for (size_t i = 0; i < 2 * n; i++) gu[i] = 3.0f * rng_normal(&rng);
    gu[0] = -95.0f;                     // exp(-g) overflows: silu -> -0
    CUdeviceptr d_gu = upload_new(gu, 2 * n * 4), d_a = gpu_alloc(&G, (n + ffn) * 2);
    gpu_fill_u32(&G, d_a, BF16_NAN2, (n + ffn) / 2);
    launch_swiglu(&G, d_a, d_gu, T, ffn);
    float *a = download_bf16(d_a, n + ffn);
    double *ref = xmalloc(n * 8);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < ffn; j++) {
            double g = gu[(size_t)t * 2 * ffn + j], u = gu[(size_t)t * 2 * ffn + ffn + j];
            ref[(size_t)t * ffn + j] = g / (1.0 + exp(-g)) * u;
        }
    char what[64];
    snprintf(what, sizeof what, "swiglu ffn=%d T=%d", ffn, T);
    check_close(what, a, ref, n, 1e-2, 1e-30, 4e-3);
    CHECK(all_nan(a + n, ffn), "%s wrote past the last row", what);
    gpu_free(&G, d_gu); gpu_free(&G, d_a);
    free(gu); free(a); free(ref);
}

static void swiglu_shapes(void) {
    NEED_GPU();
    static const int ffns[] = { 3072, 12288, 17408, 25600, 1028 /* a partial last CTA */ };
    for (int f = 0; f < 5; f++)
        for (int i = 0; i < NT; i++) swiglu_one(ffns[f], Ts[i]);
}

// ---------------------------------------------------------------- argmax
// Row kinds: 0 random, 1 a tie between two positions, 2 NaNs sprinkled (index 0 included), 3 all equal,
// 4 max at the last index, 5 +inf among NaNs, 6 only -inf and NaN, 7 all NaN, 8 small integers (the maximum
// repeated many times, within one float4 and across threads) with NaNs, 9 -inf with a NaN first.
static void argmax_fill(float *x, int vocab, int kind) {
    for (int j = 0; j < vocab; j++) x[j] = 3.0f * rng_normal(&rng);
    int a = (int)(rng_u64(&rng) % (uint64_t)vocab), b = (int)(rng_u64(&rng) % (uint64_t)vocab);
    switch (kind) {
    case 1: x[a] = x[b] = 100.0f; break;
    case 2:
        for (int j = 0; j < vocab; j += 7) x[j] = NAN;
        x[a] = 50.0f;
        if (a + 1 < vocab) x[a + 1] = NAN;
        x[0] = NAN;
        break;
    case 3: for (int j = 0; j < vocab; j++) x[j] = 0.5f; break;
    case 4: x[vocab - 1] = 1e30f; break;
    case 5: for (int j = 0; j < vocab; j++) x[j] = NAN; x[a] = INFINITY; break;
    case 6: for (int j = 0; j < vocab; j++) x[j] = j % 3 ? -INFINITY : NAN; break;
    case 7: for (int j = 0; j < vocab; j++) x[j] = NAN; break;
    case 8: for (int j = 0; j < vocab; j++) x[j] = j % 5 ? roundf(x[j] / 3.0f) : NAN; break;   // many ties
    case 9: for (int j = 0; j < vocab; j++) x[j] = -INFINITY; x[0] = x[a] = NAN; break;
    default: break;
    }
}
static int argmax_ref(const float *x, int vocab) {
    float best = -INFINITY;
    int idx = -1;
    for (int j = 0; j < vocab; j++)
        if (x[j] > best || (x[j] == best && idx < 0)) { best = x[j]; idx = j; }
    return idx < 0 ? 0 : idx;
}

static void argmax_one(int n_rows, int vocab) {
    float *x = xmalloc((size_t)n_rows * vocab * 4);
    for (int r = 0; r < n_rows; r++) argmax_fill(x + (size_t)r * vocab, vocab, r % 10);
    CUdeviceptr d_x = upload_new(x, (size_t)n_rows * vocab * 4), d_out = gpu_alloc(&G, (size_t)(n_rows + 1) * 4);
    gpu_fill_u32(&G, d_out, 0xDEADBEEFu, (size_t)n_rows + 1);
    launch_argmax(&G, d_out, d_x, n_rows, vocab);
    int32_t *out = xmalloc((size_t)(n_rows + 1) * 4);
    gpu_download(&G, out, d_out, (size_t)(n_rows + 1) * 4);
    int bad = 0;
    for (int r = 0; r < n_rows; r++) {
        int want = argmax_ref(x + (size_t)r * vocab, vocab);
        if (out[r] != want) {
            if (bad < 4) printf("  argmax vocab=%d row %d (kind %d): got %d want %d\n", vocab, r, r % 10, out[r], want);
            bad++;
        }
    }
    CHECK(bad == 0, "argmax n_rows=%d vocab=%d: %d rows wrong", n_rows, vocab, bad);
    CHECK((uint32_t)out[n_rows] == 0xDEADBEEFu, "argmax wrote past the last row");
    gpu_free(&G, d_x); gpu_free(&G, d_out);
    free(x); free(out);
}

static void argmax_rows(void) {
    NEED_GPU();
    argmax_one(1, 151936);
    argmax_one(10, 151936);
    argmax_one(64, 151936);
    argmax_one(16, 1000);
    argmax_one(10, 4);
    argmax_one(20, 16384 + 12);   // main loop plus a tail
}

// ---------------------------------------------------------------- timings (printed, not asserted)
// The fp8 cache's writer from bf16 qkv (the FP8 engine's larger steps), 32/8 heads, one warp a head and one CTA a
// token: T tokens of slot 0 at positions 0 .. T - 1 (every k / v row its own, as in a prefill), pages 0 .. 63.
static void time_rope8(GpuTimer *tm, CUdeviceptr q, CUdeviceptr kc, CUdeviceptr vc, CUdeviceptr w, CUdeviceptr qkv,
                       int T, int reps) {
    int32_t *iota = xmalloc((size_t)T * 4);
    for (int t = 0; t < T; t++) iota[t] = t;
    CUdeviceptr pos = upload_new(iota, (size_t)T * 4), table = upload_new(iota, 64 * 4);  // T >= 64
    CUdeviceptr slot = gpu_alloc(&G, (size_t)T * 4), sc = gpu_alloc(&G, (size_t)2 * 64 * 8 * 64 * 4);
    gpu_fill_u32(&G, slot, 0, (size_t)T);
    for (int tk = 0; tk < 2; tk++) {
        int tok_was = rope_tok_min(tk);
        gpu_timer_start(&G, tm);
        for (int i = 0; i < reps; i++)
            launch_qknorm_rope_kv_fp8(&G, q, kc, vc, sc, sc + 64 * 8 * 64 * 4, qkv, 1, w, w, table, slot, pos, T, 32,
                                      8, 128, 64, 1e6f, 1e-6f);
        float ms = gpu_timer_stop_ms(&G, tm) / reps;
        printf("  rope8%-4s T=%-4d 32/8 heads: %7.2f us  %6.1f GB/s (bf16 qkv in, fp8 cache)\n", tk ? "tok" : "", T,
               ms * 1e3, T * (48 * 128 * 2.0 + 32 * 128 * 2 + 16 * 132) / ms / 1e6);
        rope_tok_min(tok_was);
    }
    gpu_free(&G, pos); gpu_free(&G, table); gpu_free(&G, slot); gpu_free(&G, sc);
    free(iota);
}

static void timings(void) {
    NEED_GPU();
    GpuTimer tm;
    gpu_timer_init(&tm);
    int T = 1, dim = 4096, ffn = 12288, vocab = 151936, reps = 50;
    CUdeviceptr x = gpu_alloc(&G, (size_t)512 * 25600 * 2 * 4), y = gpu_alloc(&G, (size_t)512 * 25600 * 2 * 4);
    CUdeviceptr w = gpu_alloc(&G, 8192 * 4), tok = gpu_alloc(&G, 4096 * 4), out = gpu_alloc(&G, 512 * 4);
    CUdeviceptr emb = gpu_alloc(&G, (size_t)vocab * dim * 2);
    CUdeviceptr kc = gpu_alloc(&G, (size_t)8 * 4096 * 128 * 2), vc = gpu_alloc(&G, (size_t)8 * 4096 * 128 * 2);
    gpu_fill_u32(&G, x, 0x3F800000u, (size_t)512 * 25600 * 2);
    gpu_fill_u32(&G, w, 0x3F800000u, 8192);
    gpu_fill_u32(&G, tok, 0, 4096);
    gpu_fill_u32(&G, emb, 0x3F803F80u, (size_t)vocab * dim / 2);
    for (int pass = 0; pass < 2; pass++) {
        T = pass ? 512 : 1;
        float ms;
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++) launch_embed(&G, y, emb, tok, T, dim);
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  embed     T=%-3d dim=%d:  %7.2f us  %6.1f GB/s\n", T, dim, ms * 1e3, T * dim * 6.0 / ms / 1e6);
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++) launch_rmsnorm(&G, y, x, w, 0, T, dim, 1e-6f);
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  rmsnorm   T=%-3d dim=%d:  %7.2f us  %6.1f GB/s\n", T, dim, ms * 1e3, T * dim * 6.0 / ms / 1e6);
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++) launch_rmsnorm_fp8(&G, y, y + (size_t)512 * dim, x, w, 0, T, dim, 1e-6f);
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  rmsnorm8  T=%-3d dim=%d:  %7.2f us  %6.1f GB/s (e4m3 + scales out)\n", T, dim, ms * 1e3,
               T * dim * 5.03 / ms / 1e6);
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++)
            launch_qknorm_rope_kv(&G, y, kc, vc, x, 0, w, w, tok, tok, tok, T, 32, 8, 128, 64, 1e6f, 1e-6f);  // page 0
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  rope      T=%-3d 32/8 heads: %7.2f us  %6.1f GB/s\n", T, ms * 1e3, T * 48 * 128 * 6.0 / ms / 1e6);
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++)
            launch_qknorm_rope_kv(&G, y, kc, vc, x, 1, w, w, tok, tok, tok, T, 32, 8, 128, 64, 1e6f, 1e-6f);
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  rope16    T=%-3d 32/8 heads: %7.2f us  %6.1f GB/s (bf16 qkv in)\n", T, ms * 1e3,
               T * 48 * 128 * 4.0 / ms / 1e6);
        if (T >= 64) time_rope8(&tm, y, kc, vc, w, x, T, reps);
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++) launch_swiglu(&G, y, x, T, ffn);
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  swiglu    T=%-3d ffn=%d: %7.2f us  %6.1f GB/s\n", T, ffn, ms * 1e3, T * ffn * 10.0 / ms / 1e6);
        int rows = pass ? 64 : 1;
        gpu_timer_start(&G, &tm);
        for (int i = 0; i < reps; i++) launch_argmax(&G, out, x, rows, vocab);
        ms = gpu_timer_stop_ms(&G, &tm) / reps;
        printf("  argmax    rows=%-3d vocab=%d: %7.2f us  %6.1f GB/s\n", rows, vocab, ms * 1e3,
               rows * vocab * 4.0 / ms / 1e6);
    }
    time_rope8(&tm, y, kc, vc, w, x, 3436, reps);  // a B = 256 job's mixed step
    gpu_timer_free(&tm);
    gpu_free(&G, x); gpu_free(&G, y); gpu_free(&G, w); gpu_free(&G, tok); gpu_free(&G, out); gpu_free(&G, emb);
    gpu_free(&G, kc); gpu_free(&G, vc);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(embed_shapes);
    RUN(rmsnorm_shapes);
    RUN(rmsnorm_row_gather);
    RUN(rmsnorm_fp8_shapes);
    RUN(rope_shapes);
    RUN(rope_other_bases);
    RUN(swiglu_shapes);
    RUN(argmax_rows);
    RUN(timings);
    gpu_test_end();
    return test_end();
}
