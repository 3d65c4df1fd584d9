// test_quants.c — f16/bf16 conversion against a double reference (f16 -> f32 exhaustive, f32 -> f16/bf16 dense
// random plus every rounding boundary), dequantization of hand-built blocks of every type against an
// element-by-element double formula, quantize -> dequantize error bounds (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K) on Gaussian rows,
// rows with outliers and degenerate rows; prints dequantize speed (not asserted).
#include "../gguf/gguf.h"
#include "../gguf/quants.h"
#include "../host/util.h"
#include "test.h"

#include <fenv.h>

static Rng rng;

static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bitsf(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// ---------------------------------------------------------------- conversions

// IEEE half decoded with ldexp: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
static double ref_half(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp(m, -24);
    else v = ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

// Rounds v to a binary format with `mbits` stored mantissa bits, minimum normal exponent emin, overflowing to
// infinity at `inf_at` (the halfway point above the largest finite value). Ties to even via nearbyint.
static double ref_round(double v, int mbits, int emin, double inf_at) {
    double a = fabs(v);
    if (a >= inf_at) return v < 0 ? -INFINITY : INFINITY;
    if (a == 0) return v;
    int k;
    frexp(a, &k);   // a = f * 2^k, f in [0.5, 1)
    int e = k - 1 < emin ? emin : k - 1;
    double ulp = ldexp(1, e - mbits);
    double r = nearbyint(a / ulp) * ulp;
    return v < 0 ? -r : r;
}

static void f16_decode_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = f16_to_f32((uint16_t)h);
        double ref = ref_half((uint16_t)h);
        if (isnan(ref)) { bad += !isnan(got); continue; }
        bad += (double)got != ref || !signbit(got) != !signbit(ref);
        if (bad == 1 && ((double)got != ref || !signbit(got) != !signbit(ref)))
            printf("  first mismatch: 0x%04x -> %a, expected %a\n", h, got, ref), bad++;
    }
    CHECK(bad == 0, "%d of 65536 half values decode wrong", bad);
}

// x -> f16 -> f32 must equal the double reference rounding of x.
static int check_f16(float x) {
    uint16_t h = f32_to_f16(x);
    float back = f16_to_f32(h);
    if (isnan(x)) return !isnan(back);
    double ref = ref_round(x, 10, -14, 65520.0);
    int bad = (double)back != ref || !signbit(back) != !signbit(ref);
    if (bad) printf("  f32_to_f16(%a) = 0x%04x (%a), expected %a\n", x, h, back, ref);
    return bad;
}

static int check_bf16(float x) {
    uint16_t h = f32_to_bf16(x);
    float back = bf16_to_f32(h);
    if (isnan(x)) return !isnan(back);
    double ref = ref_round(x, 7, -126, ldexp(2 - ldexp(1, -8), 127));
    int bad = (double)back != ref || !signbit(back) != !signbit(ref);
    if (bad) printf("  f32_to_bf16(%a) = 0x%04x (%a), expected %a\n", x, h, back, ref);
    return bad;
}

// Dense random: half the samples with exponents near the f16 range, half with any bits; plus every f16 value,
// the midpoints between neighbours and one float ulp either side of each midpoint (where rounding flips).
static void f16_encode_dense(void) {
    CHECK(fegetround() == FE_TONEAREST, "rounding mode");
    int bad = 0;
    for (int i = 0; i < 4000000 && bad < 5; i++) {
        uint32_t u = (uint32_t)rng_u64(&rng);
        if (i & 1) u = (u & 0x807fffff) | ((uint32_t)(100 + rng_u64(&rng) % 45) << 23);
        bad += check_f16(fbits(u));
    }
    for (uint32_t h = 0; h < 0x7c00 && bad < 5; h++) {
        double lo = ref_half((uint16_t)h), hi = h + 1 < 0x7c00 ? ref_half((uint16_t)(h + 1)) : 65536.0;
        float mid = (float)((lo + hi) / 2);   // exact: the midpoint needs 12 bits
        float v[5] = { (float)lo, mid, nextafterf(mid, 0), nextafterf(mid, INFINITY), -mid };
        for (int k = 0; k < 5; k++) bad += check_f16(v[k]);
    }
    float special[] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f, 65519.996f, 65520.0f, 1e-8f, 3e-8f,
                        fbits(1), fbits(0x7f7fffff), 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f };
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++) bad += check_f16(special[k]);
    CHECK(f32_to_f16(NAN) != 0x7c00 && (f32_to_f16(NAN) & 0x7c00) == 0x7c00, "NaN stays NaN");
    CHECK(bad == 0, "%d f32 -> f16 conversions wrong", bad);
}

static void bf16_both_ways(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {   // decode: exhaustive, it is a shift
        float got = bf16_to_f32((uint16_t)h), ref = fbits(h << 16);
        bad += isnan(ref) ? !isnan(got) : bitsf(got) != bitsf(ref);
    }
    for (int i = 0; i < 4000000 && bad < 5; i++) bad += check_bf16(fbits((uint32_t)rng_u64(&rng)));
    for (uint32_t h = 0; h < 0x7f80 && bad < 5; h += 1) {   // every bf16 midpoint and its neighbours
        float mid = fbits(((uint32_t)h << 16) | 0x8000);
        float v[4] = { mid, nextafterf(mid, 0), nextafterf(mid, INFINITY), -mid };
        for (int k = 0; k < 4; k++) bad += check_bf16(v[k]);
    }
    CHECK(isnan(bf16_to_f32(f32_to_bf16(fbits(0x7f800001)))), "signalling NaN must stay NaN");
    CHECK(bad == 0, "%d bf16 conversions wrong", bad);
}

// ---------------------------------------------------------------- hand-built blocks
// Each packer places integer levels and scales by the element-index formulas of the format (written
// independently of quants.c's loops); the expected value is computed in double.

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

// A random f16 scale in [2^-8, 4) with random sign where allowed.
static uint16_t rand_scale(int allow_neg) {
    float v = (float)ldexp(1 + rng_uniform(&rng), (int)(rng_u64(&rng) % 10) - 8);
    if (allow_neg && (rng_u64(&rng) & 1)) v = -v;
    return f32_to_f16(v);
}

static double max_rel_dev(const float *got, const double *ref, int n) {
    double worst = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double scale = fabs(ref[i]) > 1e-30 ? fabs(ref[i]) : 1e-30;
        double d = fabs(got[i] - ref[i]) / scale;
        if (d > worst) worst = d;
    }
    return worst;
}

// Builds nblk random blocks of type t into blk and their exact values into ref.
static void build_blocks(uint32_t t, uint8_t *blk, double *ref, int nblk) {
    size_t bs = ggml_type_size(t);
    memset(blk, 0, bs * (size_t)nblk);
    for (int b = 0; b < nblk; b++) {
        uint8_t *p = blk + bs * (size_t)b;
        double *r = ref + (size_t)b * (size_t)ggml_blck_size(t);
        if (t == GGML_TYPE_Q8_0 || t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q5_0) {
            uint16_t dh = rand_scale(1);
            put16(p, dh);
            double d = ref_half(dh);
            for (int e = 0; e < 32; e++) {
                int q;
                if (t == GGML_TYPE_Q8_0) {
                    q = (int)(rng_u64(&rng) % 255) - 127;
                    if (q == 0) q = 1;
                    p[2 + e] = (uint8_t)(int8_t)q;
                } else if (t == GGML_TYPE_Q4_0) {
                    int u = (int)(rng_u64(&rng) % 16);
                    p[2 + e % 16] |= (uint8_t)(e < 16 ? u : u << 4);
                    q = u - 8;
                } else {
                    int u = (int)(rng_u64(&rng) % 32);
                    p[6 + e % 16] |= (uint8_t)(e < 16 ? (u & 15) : (u & 15) << 4);
                    p[2 + e / 8] |= (uint8_t)((u >> 4) << (e % 8));   // qh bit e (u32 little-endian)
                    q = u - 16;
                }
                r[e] = d * q;
            }
        } else if (t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K) {
            uint16_t dh = rand_scale(0), mh = rand_scale(0);
            put16(p, dh); put16(p + 2, mh);
            double d = ref_half(dh), dmin = ref_half(mh);
            int sc[8], mn[8];
            uint8_t *s = p + 4;
            for (int j = 0; j < 8; j++) {
                sc[j] = 1 + (int)(rng_u64(&rng) % 63); mn[j] = (int)(rng_u64(&rng) % 64);
                if (j < 4) { s[j] |= (uint8_t)(sc[j] & 63); s[j + 4] |= (uint8_t)(mn[j] & 63); }
                else {
                    s[j + 4] |= (uint8_t)((sc[j] & 15) | ((mn[j] & 15) << 4));
                    s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
                    s[j] |= (uint8_t)((mn[j] >> 4) << 6);
                }
            }
            int k5 = t == GGML_TYPE_Q5_K;
            uint8_t *qh = p + 16, *qs = p + (k5 ? 48 : 16);
            for (int e = 0; e < 256; e++) {
                int u = (int)(rng_u64(&rng) % (k5 ? 32 : 16));
                int c = e / 64, half = (e % 64) / 32, l = e % 32;
                qs[32 * c + l] |= (uint8_t)(half ? (u & 15) << 4 : (u & 15));
                if (k5) qh[l] |= (uint8_t)((u >> 4) << (2 * c + half));
                int j = e / 32;
                r[e] = d * sc[j] * u - dmin * mn[j];
            }
        } else if (t == GGML_TYPE_Q6_K) {
            uint16_t dh = rand_scale(1);
            put16(p + 208, dh);
            double d = ref_half(dh);
            int8_t *sc = (int8_t *)(p + 192);
            for (int j = 0; j < 16; j++) { int v = (int)(rng_u64(&rng) % 255) - 127; sc[j] = (int8_t)(v ? v : 3); }
            for (int e = 0; e < 256; e++) {
                int u = (int)(rng_u64(&rng) % 64);
                int h = e / 128, g = (e % 128) / 32, l = e % 32;
                p[64 * h + l + 32 * (g & 1)] |= (uint8_t)(g >= 2 ? (u & 15) << 4 : (u & 15));
                p[128 + 32 * h + l] |= (uint8_t)((u >> 4) << (2 * g));
                r[e] = d * sc[8 * h + l / 16 + 2 * g] * (u - 32);
            }
        }
    }
}

static void dequant_known_blocks(void) {
    const uint32_t types[] = { GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K };
    enum { NB = 64 };
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        uint32_t t = types[k];
        int n = ggml_blck_size(t) * NB;
        uint8_t *blk = xmalloc(ggml_type_size(t) * NB);
        double *ref = xmalloc(sizeof(double) * (size_t)n);
        float *out = xmalloc(sizeof(float) * (size_t)n);
        for (int i = 0; i < n; i++) out[i] = NAN;   // poisoned
        build_blocks(t, blk, ref, NB);
        dequantize_row(t, blk, out, n);
        // Each value is at most three float roundings from the exact product: a few ulps relative, except
        // where d*sc*q - dmin*m cancels (K-quants with mins), so measure those against the terms' size.
        double dev = max_rel_dev(out, ref, n);
        if (t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K) {
            double worst = 0;
            for (int i = 0; i < n; i++) {
                double mag = fabs(ref[i]) + 1e-30;
                const uint8_t *p = blk + ggml_type_size(t) * (size_t)(i / 256);
                mag += 63.0 * fabs(ref_half((uint16_t)(p[2] | p[3] << 8)));   // the min term's size
                mag += 63.0 * 31 * fabs(ref_half((uint16_t)(p[0] | p[1] << 8)));
                double d = isfinite(out[i]) ? fabs(out[i] - ref[i]) / mag : INFINITY;
                if (d > worst) worst = d;
            }
            dev = worst;
        }
        CHECK(dev < 4e-7, "%s: max relative deviation %.3g", gguf_type_name(t), dev);
        free(blk); free(ref); free(out);
    }
    // F32/F16/BF16 rows are elementwise.
    int n = 1000;
    uint16_t *h = xmalloc(2 * (size_t)n), *bh = xmalloc(2 * (size_t)n);
    float *in = xmalloc(4 * (size_t)n), *out = xmalloc(4 * (size_t)n);
    for (int i = 0; i < n; i++) { in[i] = rng_normal(&rng) * 10; h[i] = f32_to_f16(in[i]); bh[i] = f32_to_bf16(in[i]); }
    int bad = 0;
    dequantize_row(GGML_TYPE_F16, h, out, n);
    for (int i = 0; i < n; i++) bad += out[i] != f16_to_f32(h[i]);
    dequantize_row(GGML_TYPE_BF16, bh, out, n);
    for (int i = 0; i < n; i++) bad += out[i] != bf16_to_f32(bh[i]);
    dequantize_row(GGML_TYPE_F32, in, out, n);
    bad += memcmp(in, out, 4 * (size_t)n) != 0;
    CHECK(bad == 0, "%d elementwise rows wrong", bad);
    free(h); free(bh); free(in); free(out);
}

// ---------------------------------------------------------------- round trips

// Relative RMS error of quantize -> dequantize for one type and input row; NaN/Inf gives INFINITY.
static double roundtrip_err(uint32_t t, const float *x, int64_t n) {
    uint8_t *q = xmalloc(ggml_row_bytes(t, n) + 64);
    float *y = xmalloc(sizeof(float) * (size_t)n);
    double *ref = xmalloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) { y[i] = NAN; ref[i] = x[i]; }
    size_t wrote = quantize_row(t, x, q, n);
    double e = wrote == ggml_row_bytes(t, n) ? (dequantize_row(t, q, y, n), rel_err(y, ref, (size_t)n)) : INFINITY;
    free(q); free(y); free(ref);
    return e;
}

// Bounds: ggml's reference quantizers (quantize_row_*_ref) give 0.0053 (Q8_0), 0.0713 (Q4_K) and 0.0177
// (Q6_K) relative RMS error on N(0,1) rows; ours use the same searches (t_gguf_py.sh compares them directly).
static void roundtrip_gaussian(void) {
    const int64_t n = 256 * 512;
    float *x = xmalloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = rng_normal(&rng) * 0.02f;   // weight-like scale
    struct { uint32_t t; double bound; } cases[] = {
        { GGML_TYPE_Q8_0, 0.0056 }, { GGML_TYPE_Q4_0, 0.088 }, { GGML_TYPE_Q5_0, 0.044 }, { GGML_TYPE_Q4_K, 0.074 }, { GGML_TYPE_Q5_K, 0.04 }, { GGML_TYPE_Q6_K, 0.0185 },
        { GGML_TYPE_F16, 3e-4 }, { GGML_TYPE_BF16, 2.5e-3 }, { GGML_TYPE_F32, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double e = roundtrip_err(cases[k].t, x, n);
        printf("  %-5s N(0, 0.02^2): relative RMS error %.5f (bound %.4f)\n", gguf_type_name(cases[k].t), e, cases[k].bound);
        CHECK(e <= cases[k].bound, "%s error %.5f above %.4f", gguf_type_name(cases[k].t), e, cases[k].bound);
    }
    free(x);
}

// Heavy tails, a huge outlier per block, mixed magnitudes across blocks, all-positive rows: error stays
// bounded and finite; degenerate blocks (zeros, constants, one non-zero) decode without NaN.
static void roundtrip_hard_rows(void) {
    const int64_t n = 256 * 64;
    float *x = xmalloc(sizeof(float) * (size_t)n);
    const uint32_t types[] = { GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K, GGML_TYPE_Q5_K, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0 };
    const double bound[][6] = {   // per row kind: Q8_0, Q4_K, Q6_K, Q5_K, Q4_0, Q5_0
        { 0.02, 0.25, 0.06, 0.07, 0.25, 0.12 }, { 0.02, 0.25, 0.06, 0.07, 0.25, 0.12 },
        { 0.01, 0.1, 0.025, 0.045, 0.1, 0.05 }, { 0.01, 0.1, 0.025, 0.025, 0.1, 0.05 } };
    const char *kind[] = { "student-t-like tails", "one 100x outlier per block", "block scales 1e-4..1e2", "all positive" };
    for (int r = 0; r < 4; r++) {
        for (int64_t i = 0; i < n; i++) {
            float g = rng_normal(&rng);
            if (r == 0) g = g / (0.2f + (float)rng_uniform(&rng));
            if (r == 1 && i % 256 == 17) g = 100;
            if (r == 2) g *= powf(10, (float)((i / 256) % 7) - 4);
            if (r == 3) g = fabsf(g) + 0.5f;
            x[i] = g;
        }
        for (int k = 0; k < 6; k++) {
            double e = roundtrip_err(types[k], x, n);
            CHECK(e <= bound[r][k], "%s on %s: error %.4f above %.3f", gguf_type_name(types[k]), kind[r], e, bound[r][k]);
        }
    }
    // Degenerate blocks: exact zeros decode to zero, a constant block decodes close to the constant.
    for (int k = 0; k < 6; k++) {
        float z[256] = { 0 }, c[256], y[256];
        uint8_t q[512];   // Q8_0 of 256 values is 272 bytes
        for (int i = 0; i < 256; i++) c[i] = 0.37f;
        quantize_row(types[k], z, q, 256);
        dequantize_row(types[k], q, y, 256);
        int bad = 0;
        for (int i = 0; i < 256; i++) bad += y[i] != 0;
        CHECK(bad == 0, "%s: zeros decode to non-zero", gguf_type_name(types[k]));
        quantize_row(types[k], c, q, 256);
        dequantize_row(types[k], q, y, 256);
        bad = 0;
        for (int i = 0; i < 256; i++) bad += !(fabsf(y[i] - 0.37f) < 0.37f * 0.02f);
        CHECK(bad == 0, "%s: constant block off by > 2%% (%d values; y[0] = %g)", gguf_type_name(types[k]), bad, y[0]);
        memset(z, 0, sizeof z);
        z[5] = -3.0f;
        quantize_row(types[k], z, q, 256);
        dequantize_row(types[k], q, y, 256);
        CHECK(fabsf(y[5] + 3.0f) < 0.03f && isfinite(y[0]), "%s: single value decodes to %g", gguf_type_name(types[k]), y[5]);
    }
    free(x);
}

// Q8_0 is simple enough to check exactly: d = f16(amax/127), q = round(x / d_f32).
static void q8_0_exact(void) {
    float x[64];
    uint8_t q[68];
    for (int i = 0; i < 64; i++) x[i] = rng_normal(&rng) * (i < 32 ? 1.0f : 1e-3f);
    CHECK(quantize_row_q8_0(x, q, 64) == 68, "size");
    int bad = 0;
    for (int b = 0; b < 2; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        float d = amax / 127;
        uint16_t dh;
        memcpy(&dh, q + 34 * b, 2);
        bad += dh != f32_to_f16(d);
        for (int i = 0; i < 32; i++) bad += (int8_t)q[34 * b + 2 + i] != (int)roundf(x[32 * b + i] * (1 / d));
    }
    CHECK(bad == 0, "%d Q8_0 fields differ from the definition", bad);
}

static void sizes(void) {
    CHECK(ggml_type_size(GGML_TYPE_Q4_K) == 144 && ggml_type_size(GGML_TYPE_Q5_K) == 176 &&
          ggml_type_size(GGML_TYPE_Q6_K) == 210 && ggml_type_size(GGML_TYPE_Q8_0) == 34 &&
          ggml_type_size(GGML_TYPE_Q4_0) == 18 && ggml_type_size(GGML_TYPE_Q5_0) == 22, "block bytes");
    CHECK(ggml_row_bytes(GGML_TYPE_Q4_K, 4096) == 16 * 144 && ggml_row_bytes(GGML_TYPE_BF16, 10) == 20 &&
          ggml_row_bytes(GGML_TYPE_F32, 3) == 12, "row bytes");
    CHECK(ggml_blck_size(3) == 0 && ggml_type_size(3) == 0, "unsupported types report 0");
}

// Prints dequantize speed on one core (GB/s of f32 output); the CPU engine calls dequantize_row per matmul row.
static void dequant_speed(void) {
    const int64_t n = 4096 * 1024;
    const uint32_t types[] = { GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K };
    float *x = xmalloc(sizeof(float) * (size_t)n), *y = xmalloc(sizeof(float) * (size_t)n);
    uint8_t *q = xmalloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) x[i] = rng_normal(&rng);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        quantize_row(types[k], x, q, n);
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now_sec();
            for (int64_t r = 0; r < n; r += 4096)
                dequantize_row(types[k], q + ggml_row_bytes(types[k], r), y + r, 4096);
            double dt = now_sec() - t0;
            if (dt < best) best = dt;
        }
        printf("  dequantize %-5s %.2f GB/s of f32 output (one core, 4096-element rows; not asserted)\n",
               gguf_type_name(types[k]), n * 4.0 / best / 1e9);
        CHECK(isfinite(y[n - 1]), "output finite");
    }
    free(x); free(y); free(q);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(sizes);
    RUN(f16_decode_exhaustive);
    RUN(f16_encode_dense);
    RUN(bf16_both_ways);
    RUN(dequant_known_blocks);
    RUN(q8_0_exact);
    RUN(roundtrip_gaussian);
    RUN(roundtrip_hard_rows);
    RUN(dequant_speed);
    return test_end();
}
