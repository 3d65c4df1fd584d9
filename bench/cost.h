// cost.h — what one step of Qwen3 costs at least, for the benchmarks' floors (bench_e2e, throughput): the bytes of
// weights a step reads, the FLOPs a token needs, the K/V bytes a cached token adds; priced at the card's copy
// bandwidth and its BF16 peak (FP8 layers count half their FLOPs: the FP8 peak is twice the BF16 one).
#pragma once
#include "../host/model.h"
#include "../host/gpu_ops.h"

typedef struct {
    double wbytes;        // weight bytes read per step (every linear layer and lm_head)
    double flop_tok;      // 2 x linear weights per token, lm_head excluded (halved for FP8: BF16-peak equivalent)
    double flop_head;     // 2 x lm_head weights per sampled row
    double kv_tok;        // K+V bytes of one cached token over all layers
    double flop_key;      // QK and PV FLOPs per (query, key) over all heads and layers
    double bw, peak;
    double params;        // linear weights, lm_head included
    double wq[33];        // with --native-q on (cost_native): weight bytes a step of r <= 32 rows reads (0: wbytes)
} Cost;

// fp8_w: e4m3 linear layers (1 byte a weight, the FP8 peak), the head in bf16 unless fp8_h (the head streamed in e4m3);
// fp8_kv: e4m3 K/V rows + f32 scales
static inline Cost cost_of(const Qwen3Config *c, double bw, double peak, int fp8_w, int fp8_h, int fp8_kv) {
    double hd = c->head_dim, layer = (double)c->dim * (c->n_head + 2 * c->n_kv_head) * hd + c->n_head * hd * c->dim +
                                     3.0 * c->dim * c->ffn_dim, head = (double)c->vocab * c->dim;
    double row = fp8_kv ? hd + 4 : 2 * hd;  // bytes of one K (or V) row of one kv head
    double hb = fp8_w && fp8_h ? 1 : 2;  // bytes of a head weight, and its FLOPs at the BF16 peak
    return (Cost){ (fp8_w ? 1 : 2) * c->n_layer * layer + hb * head, (fp8_w ? 1 : 2) * c->n_layer * layer, hb * head,
                   2.0 * c->n_kv_head * row * c->n_layer, 4.0 * c->n_head * hd * c->n_layer, bw, peak,
                   c->n_layer * layer + head, { 0 } };
}

// The weight bytes of a step of `rows` rows with --native-q on: the linear layers (and the head) whose tensors the
// engine keeps in their quantised form and streams at that many rows (gpu_kq_stack_rows, as the engine decides)
// read those planes (gpu_kq_bytes: Q4_K 148 bytes a 256, Q8_0 34 a 32, ...); the others the dtype's bytes.
static inline double native_wbytes(const Qwen3Model *m, int fp8_w, int fp8_h, int rows) {
    const Qwen3Config *c = &m->cfg;
    double total = 0;
    for (int l = 0; l <= c->n_layer; l++) {
        const Qwen3Layer *W = &m->layer[l < c->n_layer ? l : 0];
        const GGUFTensor *qkv[3] = { W->wq, W->wk, W->wv }, *gu[2] = { W->w_gate, W->w_up };
        const GGUFTensor *head[1] = { c->tied ? m->tok_embd : m->output };
        struct { const GGUFTensor *const *ts; int n, K, gated; double dtype_b; } L[5] = {
            { qkv, 3, c->dim, 0, fp8_w ? 1 : 2 }, { &W->wo, 1, c->n_head * c->head_dim, 0, fp8_w ? 1 : 2 },
            { gu, 2, c->dim, 1, fp8_w ? 1 : 2 }, { &W->w_down, 1, c->ffn_dim, 0, fp8_w ? 1 : 2 },
            { head, 1, c->dim, 0, fp8_w && fp8_h ? 1 : 2 } };
        for (int i = l < c->n_layer ? 0 : 4; i < (l < c->n_layer ? 4 : 5); i++) {
            GpuKq kq;
            int native = rows <= gpu_kq_stack_rows(L[i].ts, L[i].n, L[i].K, fp8_w) &&
                         gpu_kq_plan(&kq, L[i].ts, L[i].n, L[i].K, L[i].gated, 1);
            for (int t = 0; t < L[i].n; t++) {
                const GGUFTensor *x = L[i].ts[t];
                total += native ? (double)gpu_kq_bytes(x->type, (int)x->ne[1], (int)x->ne[0])
                                : (double)x->ne[0] * x->ne[1] * L[i].dtype_b;
            }
        }
    }
    return total;
}

// Fills k->wq (the steps of 1..32 rows) for an engine with --native-q on.
static inline void cost_native(Cost *k, const Qwen3Model *m, int fp8_w, int fp8_h) {
    for (int r = 1; r < 33; r++) k->wq[r] = native_wbytes(m, fp8_w, fp8_h, r);
}

// The weight bytes a step of `rows` rows (tokens) reads.
static inline double cost_wbytes(const Cost *k, double rows) {
    return rows >= 1 && rows < 33 && k->wq[(int)rows] > 0 ? k->wq[(int)rows] : k->wbytes;
}
