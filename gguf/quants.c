// quants.c — ggml's block formats: block sizes, f16/bf16 conversion, dequantizers to f32 for every type the
// engine reads, and quantizers for Q8_0, Q4_K, Q5_K and Q6_K (what a Q8_0, Q4_K_M or Q5_K_M file needs).
// defines: ggml_blck_size, ggml_type_size, ggml_row_bytes, f16/bf16 conversion, dequantize_row, quantize_row_*
//
// Block layouts (little-endian, f16 = IEEE half), identical to ggml's:
//   Q8_0  32 elems  34 B: f16 d; i8 qs[32]                          x = d*q
//   Q4_0  32 elems  18 B: f16 d; u8 qs[16] (lo nibble: elem j, hi: j+16)   x = d*(q-8)
//   Q5_0  32 elems  22 B: f16 d; u32 qh (bit j = 5th bit of elem j); u8 qs[16] as Q4_0   x = d*(q-16)
//   Q4_K 256 elems 144 B: f16 d, dmin; u8 scales[12] (8 x 6-bit scale + 6-bit min); u8 qs[128]
//        x = d*sc*q - dmin*m; each 64-elem chunk: 32 bytes, lo nibbles = first 32 elems, hi = next 32
//   Q5_K 256 elems 176 B: as Q4_K plus u8 qh[32]: chunk c uses bits 2c (lo half) and 2c+1 (hi half) of qh[l]
//   Q6_K 256 elems 210 B: u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16] (per 16 elems), f16 d
//        x = d*scale*(q-32)
#include "quants.h"
#include "gguf.h"

#include <math.h>
#include <string.h>

#define QK 32
#define QK_K 256

// ---------------------------------------------------------------- sizes

int ggml_blck_size(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16: return 1;
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0: return QK;
    case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K: return QK_K;
    default: return 0;
    }
}

size_t ggml_type_size(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: return 4;
    case GGML_TYPE_F16: case GGML_TYPE_BF16: return 2;
    case GGML_TYPE_Q8_0: return 34;
    case GGML_TYPE_Q4_0: return 18;
    case GGML_TYPE_Q5_0: return 22;
    case GGML_TYPE_Q4_K: return 144;
    case GGML_TYPE_Q5_K: return 176;
    case GGML_TYPE_Q6_K: return 210;
    default: return 0;
    }
}

uint64_t ggml_row_bytes(uint32_t type, int64_t n) {
    int b = ggml_blck_size(type);
    if (b == 0 || n < 0) return 0;
    return (uint64_t)(n / b) * ggml_type_size(type);
}

// ---------------------------------------------------------------- f16 / bf16

static inline float f_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t bits_from_f(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// Branch-free so that loops over it vectorize: normals are rebiased by a multiply by 2^112 (exact), subnormals
// are an integer times 2^-24 (exact, and no float denormal ever appears, which would be slow), Inf/NaN keep
// their payload with the exponent forced to all ones.
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t em = h & 0x7fff;
    float normal = f_from_bits(em << 13) * 0x1p112f;
    float sub = (float)em * 0x1p-24f;
    uint32_t mag = em >= 0x7c00 ? (em << 13) | 0x7f800000 : em < 0x0400 ? bits_from_f(sub) : bits_from_f(normal);
    return f_from_bits(sign | mag);
}

float f16_to_f32(uint16_t h) { return half_to_float(h); }

uint16_t f32_to_f16(float f) {
    uint32_t x = bits_from_f(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return sign | 0x7e00 | (uint16_t)((ax >> 13) & 0x3ff);  // NaN stays a (quiet) NaN
    if (ax >= 0x477ff000) return sign | 0x7c00;   // >= 65520 rounds to Inf (65504 is the largest half)
    if (ax < 0x38800000) {                        // below 2^-14: a half subnormal, in units of 2^-24
        // Adding 2^23 rounds to an integer (nearest even) in the FPU; q = 1024 is the smallest normal, as bits.
        float t = f_from_bits(ax) * 0x1p24f;
        return sign | (uint16_t)(bits_from_f(t + 0x1p23f) - 0x4b000000);
    }
    uint32_t r = ax - ((uint32_t)(127 - 15) << 23);   // rebias the exponent
    r += 0xfff + ((r >> 13) & 1);                     // round to nearest even; a carry bumps the exponent
    return sign | (uint16_t)(r >> 13);
}

float bf16_to_f32(uint16_t h) { return f_from_bits((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f) {
    uint32_t x = bits_from_f(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);   // quiet it so it stays a NaN
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

// ---------------------------------------------------------------- dequantizers

static void dq_f16(const uint8_t *s, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = half_to_float(rd16(s + 2 * i));
}

static void dq_bf16(const uint8_t *s, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = f_from_bits((uint32_t)rd16(s + 2 * i) << 16);
}

static void dq_q8_0(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n / QK; i++, b += 34, y += QK) {
        float d = half_to_float(rd16(b));
        const int8_t *q = (const int8_t *)(b + 2);
        for (int j = 0; j < QK; j++) y[j] = q[j] * d;
    }
}

static void dq_q4_0(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n / QK; i++, b += 18, y += QK) {
        float d = half_to_float(rd16(b));
        const uint8_t *q = b + 2;
        for (int j = 0; j < QK / 2; j++) {
            y[j] = ((q[j] & 0xf) - 8) * d;
            y[j + QK / 2] = ((q[j] >> 4) - 8) * d;
        }
    }
}

static void dq_q5_0(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n / QK; i++, b += 22, y += QK) {
        float d = half_to_float(rd16(b));
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        const uint8_t *q = b + 6;
        for (int j = 0; j < QK / 2; j++) {
            int lo = (q[j] & 0xf) | (((qh >> j) & 1) << 4);
            int hi = (q[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            y[j] = (lo - 16) * d;
            y[j + QK / 2] = (hi - 16) * d;
        }
    }
}

// Q4_K/Q5_K pack 8 (scale, min) pairs of 6 bits into 12 bytes: pairs 0-3 in the low 6 bits of bytes 0-3 (scale)
// and 4-7 (min); pairs 4-7 keep their low 4 bits in bytes 8-11 and their top 2 bits in the spare top bits of
// bytes 0-7.
static inline void k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void k_scales_unpack(const uint8_t *s12, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 8; j++) {
        int a, b;
        k_scale_min(s12, j, &a, &b);
        sc[j] = (uint8_t)a;
        m[j] = (uint8_t)b;
    }
}

static void dq_q4_k(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, b += 144) {
        float d = half_to_float(rd16(b)), dmin = half_to_float(rd16(b + 2));
        const uint8_t *sc = b + 4, *q = b + 16;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {   // 64-element chunks: two sub-blocks of 32
            int s0, m0, s1, m1;
            k_scale_min(sc, 2 * c, &s0, &m0);
            k_scale_min(sc, 2 * c + 1, &s1, &m1);
            float d0 = d * s0, o0 = dmin * m0, d1 = d * s1, o1 = dmin * m1;
            for (int l = 0; l < 32; l++) y[l] = d0 * (q[l] & 0xf) - o0;
            for (int l = 0; l < 32; l++) y[l + 32] = d1 * (q[l] >> 4) - o1;
        }
    }
}

static void dq_q5_k(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, b += 176) {
        float d = half_to_float(rd16(b)), dmin = half_to_float(rd16(b + 2));
        const uint8_t *sc = b + 4, *qh = b + 16, *q = b + 48;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            int s0, m0, s1, m1;
            k_scale_min(sc, 2 * c, &s0, &m0);
            k_scale_min(sc, 2 * c + 1, &s1, &m1);
            float d0 = d * s0, o0 = dmin * m0, d1 = d * s1, o1 = dmin * m1;
            for (int l = 0; l < 32; l++) y[l] = d0 * ((q[l] & 0xf) | (((qh[l] >> (2 * c)) & 1) << 4)) - o0;
            for (int l = 0; l < 32; l++) y[l + 32] = d1 * ((q[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) - o1;
        }
    }
}

static void dq_q6_k(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = half_to_float(rd16(b + 208));
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {   // two halves of 128
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const uint8_t *s = src;
    switch (type) {
    case GGML_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case GGML_TYPE_F16: dq_f16(s, dst, n); break;
    case GGML_TYPE_BF16: dq_bf16(s, dst, n); break;
    case GGML_TYPE_Q8_0: dq_q8_0(s, dst, n); break;
    case GGML_TYPE_Q4_0: dq_q4_0(s, dst, n); break;
    case GGML_TYPE_Q5_0: dq_q5_0(s, dst, n); break;
    case GGML_TYPE_Q4_K: dq_q4_k(s, dst, n); break;
    case GGML_TYPE_Q5_K: dq_q5_k(s, dst, n); break;
    case GGML_TYPE_Q6_K: dq_q6_k(s, dst, n); break;
    default: for (int64_t i = 0; i < n; i++) dst[i] = NAN; break;   // loud, never silently zero
    }
}

// ---------------------------------------------------------------- quantizers

// Round to nearest (ties to even) for |x| < 2^22, without calling lrintf: adding 1.5*2^23 leaves the integer
// in the low mantissa bits.
static inline int round_int(float x) {
    float v = x + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

size_t quantize_row_q8_0(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += 34, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        wr16(b, f32_to_f16(d));
        for (int j = 0; j < QK; j++) {   // roundf (ties away from zero) as ggml; NaN/Inf inputs must not be UB
            float r = roundf(x[j] * id);
            int q = r >= 127 ? 127 : r <= -127 ? -127 : r == r ? (int)r : 0;
            b[2 + j] = (uint8_t)(int8_t)q;
        }
    }
    return (size_t)(n / QK) * 34;
}

// Q4_K / Q5_K sub-block fit: x ~ scale*L - mn with L in 0..nmax, minimizing sum w*(err)^2. Tries nstep + 1
// inverse scales (rmin + 0.1 i + nmax) / (max-min): Q4_K -1.0 and 20, Q5_K -0.5 and 15, as ggml; for each, rounds to levels and solves the 2x2 weighted least-squares problem for
// (scale, min) exactly; keeps the best. (The same search as ggml's make_qkx2_quants.) Returns scale; *mn >= 0.
static float fit_scale_min(const float *x, const float *w, int n, int nmax, float rmin, int nstep, uint8_t *L, float *mn) {
    float lo = x[0], hi = x[0], sw = 0, sx = 0;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]);
        sw += w[i]; sx += w[i] * x[i];
    }
    if (lo > 0) lo = 0;   // the min is subtracted: never a negative offset
    if (hi == lo) { memset(L, 0, (size_t)n); *mn = -lo; return 0; }
    float iscale = nmax / (hi - lo), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(round_int(iscale * (x[i] - lo)), 0, nmax);
        float e = scale * L[i] + lo - x[i];
        best += w[i] * (e * e);   // this order of rounding keeps the result bit-identical to ggml's
    }
    uint8_t La[QK];
    for (int step = 0; step <= nstep; step++) {
        float is = (rmin + 0.1f * step + nmax) / (hi - lo);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(round_int(is * (x[i] - lo)), 0, nmax);
            La[i] = (uint8_t)l;
            sl += w[i] * l; sl2 += w[i] * l * l; sxl += w[i] * l * x[i];
        }
        float det = sw * sl2 - sl * sl;
        if (det <= 0) continue;
        float s = (sw * sxl - sx * sl) / det, m = (sl2 * sx - sl * sxl) / det;
        if (m > 0) { m = 0; s = sxl / sl2; }
        float err = 0;
        for (int i = 0; i < n; i++) { float e = s * La[i] + m - x[i]; err += w[i] * (e * e); }
        if (err < best) { memcpy(L, La, (size_t)n); best = err; scale = s; lo = m; }
    }
    *mn = -lo;
    return scale;
}

// Q4_0 / Q5_0 (bits 4 / 5): per 32, d = the signed value of largest magnitude / -2^(bits-1) (so that value's code
// is 0), codes trunc(x / d + 2^(bits-1) + 0.5) clamped to 2^bits - 1, as ggml's reference; Q5_0's fifth bits go to
// qh (bit j: element j). NaN inputs give code 2^(bits-1) (zero), never UB.
static size_t quantize_row_q0(const float *x, void *dst, int64_t n, int bits) {
    int half = 1 << (bits - 1), top = (1 << bits) - 1;
    size_t bs = bits == 4 ? 18 : 22;
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += bs, x += QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++)
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        float d = max / (float)-half, id = d != 0 ? 1 / d : 0;
        wr16(b, f32_to_f16(d));
        uint8_t *qs = b + (bits == 4 ? 2 : 6);
        uint32_t qh = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[j] * id + (float)half + 0.5f;
            int q = v == v ? clampi((int)fmaxf(fminf(v, 127.f), -128.f), 0, top) : half;
            if (j < QK / 2) qs[j] = (uint8_t)(q & 15);
            else qs[j - QK / 2] |= (uint8_t)((q & 15) << 4);
            qh |= (uint32_t)(q >> 4) << j;
        }
        if (bits == 5) memcpy(b + 2, &qh, 4);
    }
    return (size_t)(n / QK) * bs;
}
size_t quantize_row_q4_0(const float *x, void *dst, int64_t n) { return quantize_row_q0(x, dst, n, 4); }
size_t quantize_row_q5_0(const float *x, void *dst, int64_t n) { return quantize_row_q0(x, dst, n, 5); }

// Q4_K (bits 4) and Q5_K (bits 5: the fifth bit of element l of 64-element chunk c in bit 2c (first 32) or 2c + 1
// (second 32) of qh[l], the block being d, dmin, scales[12], qh[32], qs[128]): the same fit with 15 or 31 levels.
static size_t quantize_row_qk(const float *x, void *dst, int64_t n, int bits) {
    uint8_t *b = dst;
    int nmax = (1 << bits) - 1, bs = bits == 5 ? 176 : 144;
    for (int64_t i = 0; i < n / QK_K; i++, b += bs, x += QK_K) {
        uint8_t L[QK_K];
        float scale[8], mins[8], w[32], max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            const float *xs = x + 32 * j;
            float s2 = 0;
            for (int l = 0; l < 32; l++) s2 += xs[l] * xs[l];
            float rms = sqrtf(s2 / 32);
            for (int l = 0; l < 32; l++) w[l] = rms + fabsf(xs[l]);   // favour the large values
            scale[j] = fit_scale_min(xs, w, 32, nmax, bits == 5 ? -0.5f : -1.0f, bits == 5 ? 15 : 20, L + 32 * j, &mins[j]);
            max_scale = fmaxf(max_scale, scale[j]);
            max_min = fmaxf(max_min, mins[j]);
        }
        // 6-bit scales and mins relative to the block maxima, which become the f16 d and dmin.
        float inv_s = max_scale > 0 ? 63 / max_scale : 0, inv_m = max_min > 0 ? 63 / max_min : 0;
        uint8_t *sc = b + 4;
        memset(sc, 0, 12);
        for (int j = 0; j < 8; j++) {
            int ls = clampi(round_int(inv_s * scale[j]), 0, 63), lm = clampi(round_int(inv_m * mins[j]), 0, 63);
            if (j < 4) {
                sc[j] = (uint8_t)ls;
                sc[j + 4] = (uint8_t)lm;
            } else {
                sc[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
                sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
                sc[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        wr16(b, f32_to_f16(max_scale / 63));
        wr16(b + 2, f32_to_f16(max_min / 63));
        // Re-round every element against the scales as stored (quantized), not the ideal ones.
        float d = half_to_float(rd16(b)), dmin = half_to_float(rd16(b + 2));
        for (int j = 0; j < 8; j++) {
            int s, m;
            k_scale_min(sc, j, &s, &m);
            float ds = d * s, dm = dmin * m;
            if (ds == 0) continue;   // L from the fit is then irrelevant: every value decodes to -dm
            for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clampi(round_int((x[32 * j + l] + dm) / ds), 0, nmax);
        }
        uint8_t *q = b + (bits == 5 ? 48 : 16), *qh = b + 16;
        if (bits == 5) memset(qh, 0, 32);
        for (int c = 0; c < 4; c++, q += 32)
            for (int l = 0; l < 32; l++) {
                int lo = L[64 * c + l], hi = L[64 * c + l + 32];
                q[l] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
                if (bits == 5) qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
    }
    return (size_t)(n / QK_K) * bs;
}
size_t quantize_row_q4_k(const float *x, void *dst, int64_t n) { return quantize_row_qk(x, dst, n, 4); }
size_t quantize_row_q5_k(const float *x, void *dst, int64_t n) { return quantize_row_qk(x, dst, n, 5); }

// Q6_K sub-block fit: symmetric levels -nmax..nmax-1, weights x^2 (large values matter most). Starts from the
// scale that maps the largest |x| to -nmax, then tries 18 nearby scales; each candidate's optimal scale for its
// rounded levels is sum(w x l)/sum(w l^2), and the one maximizing (sum w x l)^2 / sum w l^2 (= the smallest
// weighted squared error) wins. (The same search as ggml's make_qx_quants with rmse_type 1.)
static float fit_scale_sym(const float *x, int n, int nmax, int8_t *L) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); vmax = x[i]; }
    if (amax < 1e-15f) { memset(L, 0, (size_t)n); return 0; }
    float best_scale = 0, best = -1;
    for (int step = 0; step <= 18; step++) {
        // step 0 is the plain max-based scale; steps 1..18 are nmax -0.9 .. +0.9 in 0.1 (skipping 0)
        int k = step == 0 ? 0 : step <= 9 ? step - 10 : step - 9;
        float is = -(nmax + 0.1f * k) / vmax;
        float sxl = 0, sl2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(round_int(is * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sxl += w * x[i] * l; sl2 += w * l * l;
        }
        if (sl2 > 0 && (best < 0 || sxl * sxl > best * sl2)) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)clampi(round_int(is * x[i]), -nmax, nmax - 1);
            best_scale = sxl / sl2;
            best = best_scale * sxl;
        }
    }
    return best_scale;
}

size_t quantize_row_q6_k(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b += 210, x += QK_K) {
        int8_t L[QK_K];
        float scale[16], max_scale = 0, max_abs = 0;
        for (int j = 0; j < 16; j++) {
            scale[j] = fit_scale_sym(x + 16 * j, 16, 32, L + 16 * j);
            if (fabsf(scale[j]) > max_abs) { max_abs = fabsf(scale[j]); max_scale = scale[j]; }
        }
        memset(b, 0, 210);
        if (max_abs < 1e-15f) continue;   // an all-zero block: d = 0 and all bytes 0 decode to zeros
        // int8 scales relative to the largest; its sign is folded into d so that scale -128 is usable.
        float iscale = -128.f / max_scale;
        wr16(b + 208, f32_to_f16(1 / iscale));
        int8_t *sc = (int8_t *)(b + 192);
        for (int j = 0; j < 16; j++) sc[j] = (int8_t)clampi(round_int(iscale * scale[j]), -128, 127);
        float d = half_to_float(rd16(b + 208));
        uint8_t Lu[QK_K];
        for (int j = 0; j < 16; j++) {   // where d*scale is 0 the fit's levels stay (they decode to 0 anyway)
            float ds = d * sc[j];
            for (int l = 0; l < 16; l++)
                Lu[16 * j + l] = (uint8_t)((ds != 0 ? clampi(round_int(x[16 * j + l] / ds), -32, 31) : L[16 * j + l]) + 32);
        }
        uint8_t *ql = b, *qh = b + 128;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            const uint8_t *u = Lu + 128 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((u[l] & 0xf) | ((u[l + 64] & 0xf) << 4));
                ql[l + 32] = (uint8_t)((u[l + 32] & 0xf) | ((u[l + 96] & 0xf) << 4));
                qh[l] = (uint8_t)((u[l] >> 4) | ((u[l + 32] >> 4) << 2) | ((u[l + 64] >> 4) << 4) | ((u[l + 96] >> 4) << 6));
            }
        }
    }
    return (size_t)(n / QK_K) * 210;
}

size_t quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    uint8_t *d = dst;
    switch (type) {
    case GGML_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return (size_t)n * 4;
    case GGML_TYPE_F16: for (int64_t i = 0; i < n; i++) wr16(d + 2 * i, f32_to_f16(src[i])); return (size_t)n * 2;
    case GGML_TYPE_BF16: for (int64_t i = 0; i < n; i++) wr16(d + 2 * i, f32_to_bf16(src[i])); return (size_t)n * 2;
    case GGML_TYPE_Q8_0: return quantize_row_q8_0(src, dst, n);
    case GGML_TYPE_Q4_0: return quantize_row_q4_0(src, dst, n);
    case GGML_TYPE_Q5_0: return quantize_row_q5_0(src, dst, n);
    case GGML_TYPE_Q4_K: return quantize_row_q4_k(src, dst, n);
    case GGML_TYPE_Q5_K: return quantize_row_q5_k(src, dst, n);
    case GGML_TYPE_Q6_K: return quantize_row_q6_k(src, dst, n);
    default: return 0;
    }
}
