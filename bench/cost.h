// cost.h — what one step of Qwen3 costs at least, for the benchmarks' floors (bench_e2e, throughput): the bytes of
// weights a step reads, the FLOPs a token needs, the K/V bytes a cached token adds; priced at the card's copy
// bandwidth and its BF16 peak (FP8 layers count half their FLOPs: the FP8 peak is twice the BF16 one).
#pragma once
#include "../host/model.h"

typedef struct {
    double wbytes;        // weight bytes read per step (every linear layer and lm_head)
    double flop_tok;      // 2 x linear weights per token, lm_head excluded (halved for FP8: BF16-peak equivalent)
    double flop_head;     // 2 x lm_head weights per sampled row
    double kv_tok;        // K+V bytes of one cached token over all layers
    double flop_key;      // QK and PV FLOPs per (query, key) over all heads and layers
    double bw, peak;
    double params;        // linear weights, lm_head included
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
                   c->n_layer * layer + head };
}
