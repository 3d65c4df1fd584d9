// test_gemm_plan.c — the GEMM tile plan file (host/gemm_plan.c) on the CPU: a good file and its lookups (ranges,
// gaps, "inf", dtypes kept apart), a plan from another card refused with a warning, malformed files refused with
// the right line number, empty files, and random measured winners written and read back; and the built-in rules'
// choices (host/gpu_gemm.c) where no plan is loaded.
#include "test.h"
#include "../host/gemm_plan.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"
#include <limits.h>
#include <unistd.h>

static const char *CARD = "NVIDIA H100 80GB HBM3";
static char path[64];
static Rng rng;

static void write_file(const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { printf("  cannot write %s\n", path); exit(1); }
    fwrite(text, 1, n, f);
    fclose(f);
}
static int load_text(const char *text, char *err) {
    write_file(text, strlen(text));
    return gemm_plan_load(path, CARD, err, 256);
}
static int pick(int dtype, int M, int N, int K, int *tile, int *splits) {
    *tile = *splits = -7;  // poisoned: must be set on a hit, untouched on a miss
    return gemm_plan_pick(dtype, M, N, K, tile, splits);
}

static const char good[] =
    "# a comment before the header\n"
    "\n"
    "qwen3-gemm-plan 1 card=\"NVIDIA H100 80GB HBM3\" date=2026-11-27T06:00:00Z   # trailing comment\n"
    "bf16 4096 1024 1 15 3 1   # M=1 4.55 (4.60)\n"
    "bf16 4096 1024 16 31 0 2\n"
    "\tbf16 4096 1024 64 inf 5 1\n"
    "   \n"
    "fp8 4096 1024 1 inf 1 1\n"
    "bf16 1024 2048 8 8 7 1\n"
    "fp8 6144 4096 256 511 11 16\n"
    "fp8 4096 12288 256 511 11 36\n";

static void good_file(void) {
    char err[256] = "";
    int rc = load_text(good, err), t, s;
    CHECK(rc == 0, "rc %d: %s", rc, err);
    CHECK(pick(GEMM_PLAN_BF16, 1, 4096, 1024, &t, &s) && t == 3 && s == 1, "M=1: %d/%d", t, s);
    CHECK(pick(GEMM_PLAN_BF16, 15, 4096, 1024, &t, &s) && t == 3 && s == 1, "M=15: %d/%d", t, s);
    CHECK(pick(GEMM_PLAN_BF16, 16, 4096, 1024, &t, &s) && t == 0 && s == 2, "M=16: %d/%d", t, s);
    CHECK(pick(GEMM_PLAN_BF16, 31, 4096, 1024, &t, &s) && t == 0 && s == 2, "M=31: %d/%d", t, s);
    CHECK(!pick(GEMM_PLAN_BF16, 32, 4096, 1024, &t, &s) && t == -7 && s == -7, "M=32 is in a gap");
    CHECK(pick(GEMM_PLAN_FP8, 300, 6144, 4096, &t, &s) && t == 11 && s == GEMM_SPLIT_TAIL, "tail split: %d/%d", t, s);
    CHECK(pick(GEMM_PLAN_FP8, 256, 4096, 12288, &t, &s) && t == 11 && gemm_split_cluster(s) == 4,
          "cluster split: %d/%d", t, s);
    CHECK(!pick(GEMM_PLAN_BF16, 63, 4096, 1024, &t, &s), "M=63 is in a gap");
    CHECK(pick(GEMM_PLAN_BF16, 64, 4096, 1024, &t, &s) && t == 5 && s == 1, "M=64: %d/%d", t, s);
    CHECK(pick(GEMM_PLAN_BF16, INT_MAX, 4096, 1024, &t, &s) && t == 5, "M=INT_MAX under inf");
    CHECK(pick(GEMM_PLAN_FP8, 300, 4096, 1024, &t, &s) && t == 1 && s == 1, "fp8: %d/%d", t, s);
    CHECK(!pick(GEMM_PLAN_FP8, 1, 1024, 2048, &t, &s), "fp8 has no entry for 1024x2048");
    CHECK(pick(GEMM_PLAN_BF16, 8, 1024, 2048, &t, &s) && t == 7, "a one-M range");
    CHECK(!pick(GEMM_PLAN_BF16, 7, 1024, 2048, &t, &s) && !pick(GEMM_PLAN_BF16, 9, 1024, 2048, &t, &s),
          "below and above a one-M range");
    CHECK(!pick(GEMM_PLAN_BF16, 1, 4096, 2048, &t, &s) && !pick(GEMM_PLAN_BF16, 1, 4095, 1024, &t, &s),
          "other shapes");
    gemm_plan_clear();
    CHECK(!pick(GEMM_PLAN_BF16, 1, 4096, 1024, &t, &s), "nothing after gemm_plan_clear");
}

static void wrong_card(void) {
    char err[256] = "";
    CHECK(load_text(good, err) == 0, "%s", err);
    const char *other = "qwen3-gemm-plan 1 card=\"NVIDIA H200\" date=2026-11-27T06:00:00Z\nbf16 4096 1024 1 inf 3 1\n";
    int rc = load_text(other, err), t, s;
    CHECK(rc == 1, "rc %d (want 1: refused with a warning)", rc);
    CHECK(strstr(err, "NVIDIA H200") && strstr(err, CARD) && strstr(err, path), "warning names both cards: %s", err);
    CHECK(!pick(GEMM_PLAN_BF16, 1, 4096, 1024, &t, &s), "the earlier plan is dropped too");
    printf("  warning: %s\n", err);
}

static void malformed(void) {
    static const char H[] = "qwen3-gemm-plan 1 card=\"NVIDIA H100 80GB HBM3\" date=x\n";
    static const struct { const char *body; int line; } bad[] = {  // body follows H unless it starts with '!'
        { "bf16 4096 1024 1 15 3\n", 2 },                  // 6 fields
        { "bf16 4096 1024 1 15 3 1 9\n", 2 },              // 8 fields
        { "f16 4096 1024 1 15 3 1\n", 2 },                 // unknown dtype
        { "bf16 4096 1024 1 15 3 1\nbf16 40x6 1024 1 15 3 1\n", 3 },
        { "bf16 4096 1024 0 15 3 1\n", 2 },                // M_min 0
        { "bf16 4096 1024 16 15 3 1\n", 2 },               // M_max < M_min
        { "bf16 4096 1024 inf inf 3 1\n", 2 },             // M_min inf
        { "bf16 4096 1024 1 15 13 1\n", 2 },               // bf16 tile 13 (there are 0..12)
        { "fp8 4096 1024 1 15 13 1\n", 2 },                // fp8 tile 13 (there are 0..12)
        { "bf16 4096 1024 1 15 -1 1\n", 2 },
        { "bf16 4096 1024 1 15 3 0\n", 2 },                // splits 0
        { "bf16 4096 1024 1 15 3 9\n", 2 },                // splits 9
        { "fp8 4096 1024 1 15 7 2\n", 2 },                 // split-K on an fp8 cluster pair
        { "fp8 4096 1024 1 15 2 2\n", 2 },                 // split-K on an fp8 mma.sync tile
        { "bf16 4096 1024 1 15 3 16\n", 2 },               // the tail split on a bf16 mma.sync tile
        { "fp8 4096 1024 1 15 10 16\n", 2 },               // the tail split on the fp8 swapped tile
        { "fp8 4096 1024 1 15 0 12\n", 2 },                // splits 12
        { "fp8 4096 1024 1 15 0 33\n", 2 },                // a cluster split of 1
        { "fp8 4096 1024 1 15 0 37\n", 2 },                // a cluster split of 5
        { "fp8 4096 1024 1 15 12 34\n", 2 },               // the cluster split on an fp8 multicast pair
        { "fp8 4096 1024 1 15 10 34\n", 2 },               // ... on the fp8 swapped tile
        { "bf16 4096 1024 1 15 3 34\n", 2 },               // ... on a bf16 mma.sync tile
        { "bf16 4096 1024 1 15 9 34\n", 2 },               // ... on a bf16 multicast pair
        { "bf16 4096 1024 1 99999999999 3 1\n", 2 },       // overflow
        { "bf16 4096 1024 1 15 3 1\n\nbf16 4096 1024 15 20 0 1\n", 4 },  // overlap
        { "bf16 4096 1024 10 inf 3 1\nbf16 4096 1024 1 10 0 1\n", 3 },   // overlap, written out of order
        { "!bf16 4096 1024 1 15 3 1\n", 1 },               // no header
        { "!qwen3-gemm-plan 2 card=\"NVIDIA H100 80GB HBM3\" date=x\n", 1 },
        { "!qwen3-gemm-plan 1 date=x\n", 1 },
        { "!qwen3-gemm-plan 1 card=\"NVIDIA H100 80GB HBM3\"\n", 1 },
        { "!qwen3-gemm-plan 1 card=\"NVIDIA H100 80GB HBM3 date=x\n", 1 },
        { "!qwen3-gemm-planx 1 card=\"NVIDIA H100 80GB HBM3\" date=x\n", 1 },
    };
    char text[512], err[256], want[96];
    int t, s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].body[0] == '!') snprintf(text, sizeof text, "%s", bad[i].body + 1);
        else snprintf(text, sizeof text, "%s%s", H, bad[i].body);
        err[0] = 0;
        int rc = load_text(text, err);
        snprintf(want, sizeof want, "%s:%d: ", path, bad[i].line);
        CHECK(rc == -1, "case %zu: rc %d for:\n%s", i, rc, text);
        CHECK(!strncmp(err, want, strlen(want)) && !strchr(err, '\n'), "case %zu: error '%s', want '%s...'", i, err,
              want);
        CHECK(!pick(GEMM_PLAN_BF16, 1, 4096, 1024, &t, &s), "case %zu: a refused file loads nothing", i);
        if (i < 2 || i == 15) printf("  e.g. %s\n", err);
    }
    // a NUL byte inside a line
    char nul[] = "qwen3-gemm-plan 1 card=\"NVIDIA H100 80GB HBM3\" date=x\nbf16 4096 1024 1 15 3 1\0x\n";
    write_file(nul, sizeof nul - 1);
    CHECK(gemm_plan_load(path, CARD, err, sizeof err) == -1 && strstr(err, ":2: "), "NUL byte: %s", err);
}

static void empty(void) {
    char err[256];
    int t, s;
    CHECK(load_text(good, err) == 0, "%s", err);
    CHECK(load_text("", err) == -1 && strstr(err, "empty"), "empty file: %s", err);
    CHECK(!pick(GEMM_PLAN_BF16, 1, 4096, 1024, &t, &s), "an empty file loads nothing");
    CHECK(load_text("# only a comment\n\n   \n", err) == -1 && strstr(err, "empty"), "comments only: %s", err);
    CHECK(load_text("qwen3-gemm-plan 1 card=\"NVIDIA H100 80GB HBM3\" date=x\n", err) == 0,
          "a header and no entries is a valid (empty) plan: %s", err);
    CHECK(!pick(GEMM_PLAN_BF16, 1, 4096, 1024, &t, &s), "no entries, no picks");
    CHECK(gemm_plan_load("/nonexistent/plan.txt", CARD, err, sizeof err) == -1 && strstr(err, "/nonexistent/plan.txt"),
          "missing file: %s", err);
}

// Random winners over a few shapes and a sorted M list, with decoys (the same key, slower) and a shuffled order.
static void round_trip(void) {
    enum { SHAPES = 5, MAX_M = 14 };
    static const int ms[MAX_M] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192 };
    GemmPlanPoint pts[2 * SHAPES * 2 * MAX_M];
    int win_tile[2][SHAPES][MAX_M], win_splits[2][SHAPES][MAX_M], n = 0, Ns[SHAPES], Ks[SHAPES];
    for (int sh = 0; sh < SHAPES; sh++) {
        Ns[sh] = 64 * (1 + (int)(rng_uniform(&rng) * 3000));
        Ks[sh] = 128 * (1 + sh);
    }
    for (int d = 0; d < 2; d++)
        for (int sh = 0; sh < SHAPES; sh++)
            for (int i = 0; i < MAX_M; i++) {
                int tile, splits = 1;
                if (d == GEMM_PLAN_FP8) {
                    tile = rng_uniform(&rng) < 0.5;
                    if (rng_uniform(&rng) < 0.2) {  // the swapped tile, whose K split the plan carries
                        tile = GEMM_FP8_SW_TILE;
                        splits = 1 << (int)(rng_uniform(&rng) * 4);
                        if (i && tile == win_tile[d][sh][i - 1]) splits = win_splits[d][sh][i - 1];
                    }
                } else {
                    // runs of equal winners so that lines merge
                    tile = i && rng_uniform(&rng) < 0.6 ? win_tile[d][sh][i - 1]
                                                        : (int)(rng_uniform(&rng) * GEMM_N_TILES);
                    if (tile < GEMM_FIRST_WG && rng_uniform(&rng) < 0.3) splits = 2 + (int)(rng_uniform(&rng) * 3);
                    if (i && tile == win_tile[d][sh][i - 1]) splits = win_splits[d][sh][i - 1];
                }
                if (rng_uniform(&rng) < 0.15) tile = GEMM_PLAN_RULES, splits = 1;  // no tile beat the rules
                win_tile[d][sh][i] = tile;
                win_splits[d][sh][i] = splits;
                double us = 1 + rng_uniform(&rng) * 100;
                pts[n++] = (GemmPlanPoint){ d, Ns[sh], Ks[sh], ms[i], tile, splits, us, us * 1.1 };
                int decoy_tile = d == GEMM_PLAN_FP8 ? tile != 1 : (tile + 1) % GEMM_N_TILES;
                pts[n++] = (GemmPlanPoint){ d, Ns[sh], Ks[sh], ms[i], decoy_tile, 1, us * 1.5, us * 1.1 };
            }
    for (int i = n - 1; i > 0; i--) {  // shuffle
        int j = (int)(rng_uniform(&rng) * (i + 1));
        GemmPlanPoint tmp = pts[i]; pts[i] = pts[j]; pts[j] = tmp;
    }
    char err[256] = "";
    CHECK(gemm_plan_write(path, CARD, pts, n, err, sizeof err) == 0, "write: %s", err);
    CHECK(gemm_plan_load(path, CARD, err, sizeof err) == 0, "load: %s", err);
    FILE *f = fopen(path, "r");
    int lines = 0, c;
    while (f && (c = fgetc(f)) != EOF) lines += c == '\n';
    if (f) fclose(f);
    printf("  %d winners -> %d plan lines\n", n / 2, lines - 2);
    int bad = 0, t, s;
    for (int d = 0; d < 2; d++)
        for (int sh = 0; sh < SHAPES; sh++)
            for (int trial = 0; trial < 200; trial++) {
                int M = trial < MAX_M ? ms[trial] : 1 + (int)(rng_uniform(&rng) * 20000);
                int i = MAX_M - 1;
                while (ms[i] > M) i--;  // the lower measured M's winner, but a swapped-tile run ending at <= 64
                int swt = d == GEMM_PLAN_FP8 ? GEMM_FP8_SW_TILE : GEMM_SW_TILE;  // rows stops there
                if (M > 64 && ms[i] <= 64 && win_tile[d][sh][i] == swt && i + 1 < MAX_M &&
                    !(win_tile[d][sh][i + 1] == swt && win_splits[d][sh][i + 1] == win_splits[d][sh][i]))
                    i++;
                int hit = pick(d, M, Ns[sh], Ks[sh], &t, &s), want = win_tile[d][sh][i];
                if (want == GEMM_PLAN_RULES ? hit : !hit || t != want || s != win_splits[d][sh][i]) {
                    if (bad++ < 5) printf("  dtype %d N %d K %d M %d: got %d/%d, want %d/%d\n", d, Ns[sh], Ks[sh], M, t,
                                          s, win_tile[d][sh][i], win_splits[d][sh][i]);
                }
            }
    CHECK(bad == 0, "%d wrong picks after the round trip", bad);
    GemmPlanPoint wrong = { GEMM_PLAN_FP8, 64, 128, 1, 7, 2, 1, 1 };  // split-K on an fp8 cluster pair
    CHECK(gemm_plan_write(path, CARD, &wrong, 1, err, sizeof err) == -1, "writer refuses a bad point");
    CHECK(gemm_plan_write(path, "a \"quoted\" card", pts, 1, err, sizeof err) == -1, "writer refuses a quote");
}

// The plans built into the binary (Makefile PLANS) parse, load only on their own card, and cover the 8B's layers.
static void builtin(void) {
    const char *name = NULL;
    int t = -1, s = -1;
    CHECK(gemm_plan_load_builtin(CARD, &name) == 1 && name, "no built-in plan loads on %s", CARD);
    static const int nk[][2] = { { 6144, 4096 }, { 4096, 4096 }, { 24576, 4096 }, { 4096, 12288 } };
    static const int ms[] = { 1, 64, 256, 4096 };
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int ok = gemm_plan_pick(d, ms[j], nk[i][0], nk[i][1], &t, &s);
                CHECK(ok && t >= 0 && t < (d ? GEMM_FP8_N_TILES : GEMM_N_TILES) && s >= 1,
                      "%s: no entry for dtype %d M=%d N=%d K=%d", name, d, ms[j], nk[i][0], nk[i][1]);
            }
    CHECK(gemm_plan_load_builtin("NVIDIA H100 PCIe", &name) == 0 && !gemm_plan_pick(1, 256, 6144, 4096, &t, &s),
          "a built-in plan loaded on another card");
    // the H200's (session 19): only the points where a tile beat the rules by 3%, e.g. FP8 qkv at M = 64..159
    const char *h200 = NULL;
    CHECK(gemm_plan_load_builtin("NVIDIA H200", &h200) == 1 && gemm_plan_pick(1, 64, 6144, 4096, &t, &s) &&
              t == 1 && s == 1 && !gemm_plan_pick(1, 256, 4096, 4096, &t, &s),
          "the H200's built-in plan: %s", h200 ? h200 : "none");
    gemm_plan_clear();
    printf("  %s: loads on %s, every 8B layer x M in {1,64,256,4096} x {bf16,fp8} has an entry; %s on NVIDIA H200\n",
           name ? name : "?", CARD, h200 ? h200 : "?");
}

// The built-in rules (no plan loaded) on an H100's 132 SMs, host arithmetic only: tiles the H100 sweeps measured
// as the fastest or within 1.2% of it (NOTES.md, sessions 9 and 17), and the SwiGLU exclusion of 128x192, so a
// change to the rules that moves them is seen in CI.
static void rules(void) {
    gemm_plan_clear();
    Gpu g = { .sm_count = 132 };
    int sp = -7;
    // bf16: 32B o at M = 512 -> 128x192 (0.8 of a wave), but never for SwiGLU; 8B gate_up at 4096 -> 128x256
    CHECK(gemm_tile_choice(&g, 512, 5120, 8192, GEMM_ADD_F32, &sp) == GEMM_128X192_TILE, "bf16 32B o M=512");
    CHECK(gemm_tile_choice(&g, 512, 5120, 8192, GEMM_SWIGLU_BF16, &sp) == GEMM_FIRST_WG, "bf16 SwiGLU M=512");
    CHECK(gemm_tile_choice(&g, 4096, 24576, 4096, GEMM_STORE_F32, &sp) == GEMM_FIRST_WG, "bf16 8B gate_up M=4096");
    CHECK(gemm_tile_choice(&g, 32, 4096, 4096, GEMM_STORE_F32, &sp) == GEMM_SW_TILE, "bf16 M=32: swapped tile");
    CHECK(gemm_tile_choice(&g, 64, 4096, 4096, GEMM_STORE_F32, &sp) != GEMM_SW_TILE, "bf16 M=64: wgmma");
    // FP8: the swapped tile up to 64 rows; 128x256 for the head at M = 1024 (N not a multiple of 256); 32B gate_up at
    // M = 1024 on 128x256, not 64x128s (1.55x the best in the old rules' choice)
    CHECK(gemm_fp8_tile_choice(&g, 64, 4096, 4096, &sp) == GEMM_FP8_SW_TILE, "fp8 M=64: swapped tile");
    CHECK(gemm_fp8_tile_choice(&g, 1024, 151936, 4096, &sp) == GEMM_FP8_128X256_TILE, "fp8 head M=1024");
    CHECK(gemm_fp8_tile_choice(&g, 1024, 51200, 5120, &sp) == GEMM_FP8_128X256_TILE, "fp8 32B gate_up M=1024");
    CHECK(gemm_fp8_tile_choice(&g, 256, 6144, 4096, &sp) == 0, "fp8 8B qkv M=256: 128x128");
    // the swapped tile's splits: four for the 0.6B's o (16 tiles), two for the 1.7B's o at 64 rows and the 8B's o,
    // one for the 0.6B's qkv (K = 1,024) and the 8B's gate_up
    CHECK(gemm_sw_auto_splits(1, 1024, 2048, 132) == 4 && gemm_sw_auto_splits(64, 1024, 2048, 132) == 4, "0.6B o");
    CHECK(gemm_sw_auto_splits(1, 2048, 2048, 132) == 4 && gemm_sw_auto_splits(64, 2048, 2048, 132) == 2, "1.7B o");
    CHECK(gemm_sw_auto_splits(1, 4096, 4096, 132) == 2, "8B o");
    CHECK(gemm_sw_auto_splits(1, 4096, 1024, 132) == 1 && gemm_sw_auto_splits(1, 24576, 4096, 132) == 1, "qkv");
    printf("  rules on 132 SMs: the tiles of the session 17 sweeps' winners\n");
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    snprintf(path, sizeof path, "/tmp/qwen3-gemm-plan-%d.txt", (int)getpid());
    RUN(good_file);
    RUN(wrong_card);
    RUN(malformed);
    RUN(empty);
    RUN(round_trip);
    RUN(builtin);
    RUN(rules);
    unlink(path);
    gemm_plan_clear();
    return test_end();
}
