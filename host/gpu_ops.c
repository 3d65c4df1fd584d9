// gpu_ops.c — launchers for the element-wise kernels of the forward pass (ptx/embed, rmsnorm, rope, swiglu,
// argmax): each checks the shape assumptions its kernel relies on, picks the grid, and launches on g->stream.
// defines: launch_embed, launch_rmsnorm(_fp8), launch_qknorm_rope_kv, launch_qknorm_rope_kv_fp8, rope_tok_min,
//          launch_swiglu, launch_argmax
#include "gpu_ops.h"
#include "util.h"
#include <math.h>

// Block sizes: must match the .reqntid of each entry.
enum {
    EMBED_THREADS = 128,
    RMS_THREADS = 256, RMS_MAX_DIM = 256 * 4 * 8,      // 8 float4 per thread held in registers
    RMS_EARLY_ROWS = 64,                                // up to this many rows the weights are requested first
                                                        // (QWEN3_RMS_EARLY_ROWS overrides it)
    ROPE_WARPS = 4, ROPE_HEAD_DIM = 128,
    ROPE_TOK_THREADS = 128, ROPE_TOK_MIN_T = 512,       // the per-token entries from this many tokens (QWEN3_ROPE_TOK)
    ROPE_TOK_SMEM = 1536,                               // their angle table and both norms' weights, before the row
    SWIGLU_THREADS = 256, SWIGLU_COLS = 256 * 4,       // columns per CTA
    ARGMAX_THREADS = 1024,
};

// Functions looked up once per gpu_init (gpu_kernel searches by name). The primary context's handle can be the same
// after gpu_shutdown and a new gpu_init, while its modules are new, so the stream (created by each gpu_init) is
// part of the key.
static CUcontext fn_ctx;
static CUstream fn_stream;
static CUfunction fn_embed, fn_rmsnorm, fn_rmsnorm_fp8, fn_rmsnorm_fp8r, fn_rope[2][2][2], fn_rope_table, fn_swiglu, fn_argmax;
// rope: [fp8 cache][bf16 qkv][one CTA a token]

static void load_functions(Gpu *g) {
    if (fn_ctx == g->ctx && fn_stream == g->stream) return;
    fn_embed = gpu_kernel(g, "embed", "embed_bf16_f32");
    fn_rmsnorm = gpu_kernel(g, "rmsnorm", "rmsnorm_f32_bf16");
    fn_rmsnorm_fp8 = gpu_kernel(g, "rmsnorm", "rmsnorm_f32_fp8");
    fn_rmsnorm_fp8r = gpu_kernel(g, "rmsnorm", "rmsnorm_f32_fp8r");
    fn_rope[0][0][0] = gpu_kernel(g, "rope", "qknorm_rope_kv");
    fn_rope[1][0][0] = gpu_kernel(g, "rope", "qknorm_rope_kv_fp8");
    fn_rope[0][1][0] = gpu_kernel(g, "rope", "qknorm_rope_kv_b16");
    fn_rope[1][1][0] = gpu_kernel(g, "rope", "qknorm_rope_kv_fp8_b16");
    fn_rope[0][0][1] = gpu_kernel(g, "rope", "qknorm_rope_kv_tok");
    fn_rope[1][0][1] = gpu_kernel(g, "rope", "qknorm_rope_kv_fp8_tok");
    fn_rope[0][1][1] = gpu_kernel(g, "rope", "qknorm_rope_kv_b16_tok");
    fn_rope[1][1][1] = gpu_kernel(g, "rope", "qknorm_rope_kv_fp8_b16_tok");
    fn_rope_table = gpu_kernel(g, "rope", "rope_table");
    fn_swiglu = gpu_kernel(g, "swiglu", "swiglu_f32_bf16");
    fn_argmax = gpu_kernel(g, "argmax", "argmax_f32");
    fn_ctx = g->ctx;
    fn_stream = g->stream;
}

static void check_aligned(const char *who, const char *what, CUdeviceptr p) {
    if (p & 15) die("%s: %s pointer 0x%llx is not 16-byte aligned", who, what, (unsigned long long)p);
}

static unsigned cdiv(unsigned a, unsigned b) { return (a + b - 1) / b; }

void launch_embed(Gpu *g, CUdeviceptr x, CUdeviceptr emb, CUdeviceptr tokens, int T, int dim) {
    if (T < 0 || dim <= 0 || dim % 8) die("launch_embed: T=%d dim=%d (need dim %% 8 == 0)", T, dim);
    if (T == 0) return;
    check_aligned("launch_embed", "x", x);
    check_aligned("launch_embed", "emb", emb);
    load_functions(g);
    CUfunction embed_bf16_f32 = fn_embed;
    unsigned uT = (unsigned)T, udim = (unsigned)dim;
    Dim3 grid = { uT, 1, 1 }, block = { EMBED_THREADS, 1, 1 };
    GPU_LAUNCH(g, embed_bf16_f32, grid, block, 0, &x, &emb, &tokens, &uT, &udim);
}

// sa = 0: bf16 out (rmsnorm_f32_bf16); else e4m3 out + 1x128 scales (rmsnorm_f32_fp8), one a row (row: _fp8r).
static void rmsnorm(Gpu *g, CUdeviceptr out, CUdeviceptr sa, CUdeviceptr in_f32, CUdeviceptr w_f32, CUdeviceptr rows,
                    int n_rows, int dim, float eps, int row) {
    if (n_rows < 0 || dim <= 0 || dim % (sa ? 128 : 4) || dim > RMS_MAX_DIM)
        die("launch_rmsnorm: n_rows=%d dim=%d (need dim %% %d == 0 and dim <= %d)", n_rows, dim, sa ? 128 : 4,
            RMS_MAX_DIM);
    if (n_rows == 0) return;
    check_aligned("launch_rmsnorm", "out", out);
    check_aligned("launch_rmsnorm", "in", in_f32);
    check_aligned("launch_rmsnorm", "w", w_f32);
    if (sa % 4) die("launch_rmsnorm_fp8: scales not 4-byte aligned");
    load_functions(g);
    unsigned un = (unsigned)n_rows, udim = (unsigned)dim;
    Dim3 grid = { un, 1, 1 }, block = { RMS_THREADS, 1, 1 };
    // few rows: the weights are requested first, into dynamic shared memory (ptx/rmsnorm.ptx); more rows: read
    // after the reduction (the copy measured ~1% slower at B = 256 and pp512)
    static int early_rows = -1;
    if (early_rows < 0) early_rows = env_int("QWEN3_RMS_EARLY_ROWS", 0, 1 << 30, RMS_EARLY_ROWS);
    unsigned smem = n_rows <= early_rows ? udim * 4 : 0;
    if (sa) {
        CUfunction rmsnorm_f32_fp8 = row ? fn_rmsnorm_fp8r : fn_rmsnorm_fp8;
        GPU_LAUNCH(g, rmsnorm_f32_fp8, grid, block, smem, &out, &sa, &in_f32, &w_f32, &rows, &un, &udim, &eps);
    } else {
        CUfunction rmsnorm_f32_bf16 = fn_rmsnorm;
        GPU_LAUNCH(g, rmsnorm_f32_bf16, grid, block, smem, &out, &in_f32, &w_f32, &rows, &un, &udim, &eps);
    }
}

void launch_rmsnorm(Gpu *g, CUdeviceptr out_bf16, CUdeviceptr in_f32, CUdeviceptr w_f32, CUdeviceptr rows,
                    int n_rows, int dim, float eps) {
    rmsnorm(g, out_bf16, 0, in_f32, w_f32, rows, n_rows, dim, eps, 0);
}

void launch_rmsnorm_fp8(Gpu *g, CUdeviceptr out8, CUdeviceptr sa, CUdeviceptr in_f32, CUdeviceptr w_f32,
                        CUdeviceptr rows, int n_rows, int dim, float eps) {
    if (!sa) die("launch_rmsnorm_fp8: no scale buffer");
    rmsnorm(g, out8, sa, in_f32, w_f32, rows, n_rows, dim, eps, 0);
}

void launch_rmsnorm_fp8_row(Gpu *g, CUdeviceptr out8, CUdeviceptr sa, CUdeviceptr in_f32, CUdeviceptr w_f32,
                            CUdeviceptr rows, int n_rows, int dim, float eps) {
    if (!sa) die("launch_rmsnorm_fp8: no scale buffer");
    rmsnorm(g, out8, sa, in_f32, w_f32, rows, n_rows, dim, eps, 1);
}

static int rope_tok_from = -1;  // the per-token entries from this many tokens (0: never); -1: not read yet

int rope_tok_min(int n) {
    if (rope_tok_from < 0) rope_tok_from = env_int("QWEN3_ROPE_TOK", 0, 1 << 30, ROPE_TOK_MIN_T);
    int old = rope_tok_from;
    if (n >= 0) rope_tok_from = n;
    return old;
}

// k_scale = 0: bf16 pools (qknorm_rope_kv); else e4m3 pools + row scales (qknorm_rope_kv_fp8); qkv16: qkv is bf16
// (the _b16 entries), else f32. From ROPE_TOK_MIN_T tokens the _tok entries (ptx/rope_tok_body.h: one CTA a token,
// four heads a warp; the same bits); QWEN3_ROPE_TOK=N: from N tokens (1: always, 0: never).
static void rope_kv(Gpu *g, CUdeviceptr q_out, CUdeviceptr k_pool, CUdeviceptr v_pool, CUdeviceptr k_scale,
                    CUdeviceptr v_scale, CUdeviceptr qkv, int qkv16, CUdeviceptr q_norm, CUdeviceptr k_norm,
                    CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head, int n_kv,
                    int head_dim, int max_pages, float rope_base, float eps) {
    if (T < 0 || n_head <= 0 || n_kv <= 0 || head_dim != ROPE_HEAD_DIM || max_pages <= 0 || !(rope_base > 1.0f))
        die("launch_qknorm_rope_kv: T=%d n_head=%d n_kv=%d head_dim=%d max_pages=%d rope_base=%g "
            "(the kernel is written for head_dim %d)", T, n_head, n_kv, head_dim, max_pages, rope_base, ROPE_HEAD_DIM);
    if (T == 0) return;
    check_aligned("launch_qknorm_rope_kv", "q_out", q_out);
    check_aligned("launch_qknorm_rope_kv", "k_pool", k_pool);
    check_aligned("launch_qknorm_rope_kv", "v_pool", v_pool);
    check_aligned("launch_qknorm_rope_kv", "qkv", qkv);
    check_aligned("launch_qknorm_rope_kv", "q_norm", q_norm);
    check_aligned("launch_qknorm_rope_kv", "k_norm", k_norm);
    check_aligned("launch_qknorm_rope_kv", "block_table", block_table);
    if (k_scale) {
        check_aligned("launch_qknorm_rope_kv", "k_scale", k_scale);
        check_aligned("launch_qknorm_rope_kv", "v_scale", v_scale);
    }
    load_functions(g);
    // th_i = pos * r^i with r = base^(-2/head_dim): the kernel raises r to the i-th power in f64.
    double r = pow((double)rope_base, -2.0 / head_dim);
    unsigned uT = (unsigned)T, uh = (unsigned)n_head, ukv = (unsigned)n_kv, upages = (unsigned)max_pages;
    int tok_min = rope_tok_min(-1);
    // the per-token entries: four heads a warp (all q, k or v: n_head and n_kv multiples of 4), the token's qkv row
    // staged in the default 48 KB of shared memory
    unsigned tok_smem = ROPE_TOK_SMEM + (uh + 2 * ukv) * ROPE_HEAD_DIM * (qkv16 ? 2 : 4);
    int tok = tok_min > 0 && T >= tok_min && n_head % 4 == 0 && n_kv % 4 == 0 && tok_smem <= 48 * 1024;
    Dim3 grid = { uT, cdiv(uh + 2 * ukv, ROPE_WARPS), 1 }, block = { ROPE_WARPS * 32, 1, 1 };
    unsigned smem = 0;
    if (tok) {
        grid.y = 1;
        block.x = ROPE_TOK_THREADS;
        smem = tok_smem;
    }
    // (the name the profile shows: the cache's entry, "_tok" for the per-token form)
    const char *name = k_scale ? (tok ? "qknorm_rope_kv_fp8_tok" : "qknorm_rope_kv_fp8")
                               : (tok ? "qknorm_rope_kv_tok" : "qknorm_rope_kv");
    if (k_scale) {
        void *args[] = { &q_out, &k_pool, &v_pool, &k_scale, &v_scale, &qkv, &q_norm, &k_norm, &block_table,
                         &tok_slot, &tok_pos, &uT, &uh, &ukv, &upages, &r, &eps };
        gpu_launch(g, fn_rope[1][qkv16 != 0][tok], grid, block, smem, NULL, args, name);
    } else {
        void *args[] = { &q_out, &k_pool, &v_pool, &qkv, &q_norm, &k_norm, &block_table, &tok_slot, &tok_pos, &uT,
                         &uh, &ukv, &upages, &r, &eps };
        gpu_launch(g, fn_rope[0][qkv16 != 0][tok], grid, block, smem, NULL, args, name);
    }
}

_Static_assert(sizeof(RopeKV8) == 128, "RopeKV8: 128 bytes (ptx/gemm_wg_body.h's offsets)");
void launch_rope_table(Gpu *g, CUdeviceptr cs, CUdeviceptr kvrow, CUdeviceptr tok_slot, CUdeviceptr tok_pos,
                       CUdeviceptr block_table, int T, int n_kv, int max_pages, float rope_base) {
    if (T < 0 || !(rope_base > 1.0f) || (kvrow && (n_kv <= 0 || max_pages <= 0)))
        die("launch_rope_table: T=%d rope_base=%g n_kv=%d max_pages=%d", T, rope_base, n_kv, max_pages);
    if (T == 0) return;
    check_aligned("launch_rope_table", "cs", cs);
    load_functions(g);
    double r = pow((double)rope_base, -2.0 / ROPE_HEAD_DIM);  // (as rope_kv)
    unsigned uT = (unsigned)T, ukv = (unsigned)n_kv, upages = (unsigned)max_pages;
    Dim3 grid = { cdiv(uT, 2), 1, 1 }, block = { 128, 1, 1 };
    void *args[] = { &cs, &tok_pos, &uT, &r, &kvrow, &tok_slot, &block_table, &ukv, &upages };
    gpu_launch(g, fn_rope_table, grid, block, 0, NULL, args, "rope_table");
}

void launch_qknorm_rope_kv(Gpu *g, CUdeviceptr q_out, CUdeviceptr k_pool, CUdeviceptr v_pool, CUdeviceptr qkv,
                           int qkv16, CUdeviceptr q_norm, CUdeviceptr k_norm, CUdeviceptr block_table,
                           CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim,
                           int max_pages, float rope_base, float eps) {
    rope_kv(g, q_out, k_pool, v_pool, 0, 0, qkv, qkv16, q_norm, k_norm, block_table, tok_slot, tok_pos, T, n_head,
            n_kv, head_dim, max_pages, rope_base, eps);
}

void launch_qknorm_rope_kv_fp8(Gpu *g, CUdeviceptr q_out, CUdeviceptr k_pool, CUdeviceptr v_pool, CUdeviceptr k_scale,
                               CUdeviceptr v_scale, CUdeviceptr qkv, int qkv16, CUdeviceptr q_norm,
                               CUdeviceptr k_norm, CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos,
                               int T, int n_head, int n_kv, int head_dim, int max_pages, float rope_base, float eps) {
    if (!k_scale || !v_scale) die("launch_qknorm_rope_kv_fp8: the fp8 cache needs both scale pools");
    rope_kv(g, q_out, k_pool, v_pool, k_scale, v_scale, qkv, qkv16, q_norm, k_norm, block_table, tok_slot, tok_pos, T,
            n_head, n_kv, head_dim, max_pages, rope_base, eps);
}

void launch_swiglu(Gpu *g, CUdeviceptr a_bf16, CUdeviceptr gu_f32, int T, int ffn) {
    if (T < 0 || ffn <= 0 || ffn % 4) die("launch_swiglu: T=%d ffn=%d (need ffn %% 4 == 0)", T, ffn);
    if (T == 0) return;
    check_aligned("launch_swiglu", "a", a_bf16);
    check_aligned("launch_swiglu", "gu", gu_f32);
    load_functions(g);
    CUfunction swiglu_f32_bf16 = fn_swiglu;
    unsigned uT = (unsigned)T, uffn = (unsigned)ffn;
    Dim3 grid = { uT, cdiv(uffn, SWIGLU_COLS), 1 }, block = { SWIGLU_THREADS, 1, 1 };
    GPU_LAUNCH(g, swiglu_f32_bf16, grid, block, 0, &a_bf16, &gu_f32, &uT, &uffn);
}

void launch_argmax(Gpu *g, CUdeviceptr out_i32, CUdeviceptr logits, int n_rows, int vocab) {
    if (n_rows < 0 || vocab <= 0 || vocab % 4) die("launch_argmax: n_rows=%d vocab=%d (need vocab %% 4 == 0)",
                                                   n_rows, vocab);
    if (n_rows == 0) return;
    check_aligned("launch_argmax", "logits", logits);
    load_functions(g);
    CUfunction argmax_f32 = fn_argmax;
    unsigned un = (unsigned)n_rows, uv = (unsigned)vocab;
    Dim3 grid = { un, 1, 1 }, block = { ARGMAX_THREADS, 1, 1 };
    GPU_LAUNCH(g, argmax_f32, grid, block, 0, &out_i32, &logits, &un, &uv);
}
