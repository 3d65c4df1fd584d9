// gemm_plan.h — a measured GEMM tile plan ("wisdom"): which kernel tile and split-K is fastest for each weight shape
// and range of rows M on one card, written by `bench/gemm --sweep --plan-out FILE` and read at engine start.
// defines: gemm_plan_load, gemm_plan_pick, gemm_plan_clear, gemm_plan_write, GemmPlanPoint
//
// The file is text, one entry a line, '#' starts a comment:
//   qwen3-gemm-plan 1 card="NVIDIA H100 80GB HBM3" date=2026-11-27T06:00:00Z
//   bf16 4096 1024 1 15 3 1       dtype N K M_min M_max tile splits
//   bf16 4096 1024 16 inf 5 1     (M_max "inf": every larger M)
//   fp8 4096 1024 1 inf 1 1
// dtype bf16 -> tiles 0..GEMM_N_TILES-1 of launch_gemm_ex, splits 1..GEMM_PLAN_MAX_SPLITS (any tile: the mma.sync
// tiles add with red.global, the wgmma tiles through a deterministic slab sum, the swapped tile over a cluster); fp8 ->
// tiles 0..GEMM_FP8_N_TILES-1 of launch_gemm_fp8_ex, splits 1..8 where gemm_fp8_tile_splits allows (the swapped tile
// GEMM_FP8_SW_TILE: its cluster K split). Splits 16 (GEMM_SPLIT_TAIL, the wgmma tiles of either dtype): the tail
// split, the last partial wave's tiles split to fill the SMs. Splits 34..36 (GEMM_SPLIT_CLUSTER + S, the wgmma tiles
// but the multicast pairs): every tile's K split in S = 2..4 over a cluster, the sums meeting in shared memory.
// Ranges of one (dtype, N, K) must not overlap. M ranges come from the measured M list: a measured M covers every M
// up to the next measured one.
#pragma once
#include <stddef.h>

enum { GEMM_PLAN_BF16 = 0, GEMM_PLAN_FP8 = 1, GEMM_PLAN_MAX_SPLITS = 8 };

// Replaces the loaded plan with the one in path. 0: loaded. 1: the plan was measured on another card (not
// loaded; err holds a warning naming both cards). -1: unreadable or malformed (not loaded; err holds
// "path:line: what is wrong"). After 1 or -1 no plan is loaded: gemm_plan_pick answers 0 for everything.
int gemm_plan_load(const char *path, const char *card_name, char *err, size_t errlen);

// The same from text in memory (name stands for the path in messages).
int gemm_plan_load_text(const char *text, const char *name, const char *card_name, char *err, size_t errlen);
// Loads the first plan built into the binary (Makefile PLANS, from bench/results) that was measured on card_name:
// 1 (and *name, when not NULL, the plan's file name) or 0 (none for this card; no plan loaded).
int gemm_plan_load_builtin(const char *card_name, const char **name);

// 1 and *tile, *splits set when the loaded plan has an entry for (dtype, N, K) whose range holds M; 0 (outputs
// untouched) otherwise: the caller keeps its built-in choice.
int gemm_plan_pick(int dtype, int M, int N, int K, int *tile, int *splits);

void gemm_plan_clear(void);

// The winner of one measured (dtype, N, K, M): its tile, splits and time, and the built-in choice's time. Tile
// GEMM_PLAN_RULES: the built-in rules keep that M (no tile beat them by the sweep's margin).
typedef struct { int dtype, N, K, M, tile, splits; double us, builtin_us; } GemmPlanPoint;
enum { GEMM_PLAN_RULES = -1 };

// Writes a plan file from measured winners (any order; a repeated (dtype, N, K, M) keeps the faster). Consecutive
// measured Ms with the same winner share one line; a run of GEMM_PLAN_RULES points ends the run before it and is
// written as a comment (the loader then answers 0 there: the rules). 0, or -1 with err set.
int gemm_plan_write(const char *path, const char *card_name, const GemmPlanPoint *pts, int n, char *err,
                    size_t errlen);
