// model.h — the Qwen3 model as the GGUF describes it: config from metadata, tensors checked by name and shape.
// defines: Qwen3Config, Qwen3Layer, Qwen3Model, qwen3_load, qwen3_free
#pragma once
#include "../gguf/gguf.h"

#define QWEN3_MAX_LAYERS 128

typedef struct {
    int n_layer;      // qwen3.block_count
    int dim;          // qwen3.embedding_length
    int ffn_dim;      // qwen3.feed_forward_length
    int n_head;       // qwen3.attention.head_count
    int n_kv_head;    // qwen3.attention.head_count_kv
    int head_dim;     // qwen3.attention.key_length (== value_length)
    int vocab;        // rows of token_embd
    int ctx_len;      // qwen3.context_length
    float rope_base;  // qwen3.rope.freq_base
    float rms_eps;    // qwen3.attention.layer_norm_rms_epsilon
    int tied;         // 1 when output.weight is absent and token_embd serves as lm_head
} Qwen3Config;

// Each pointer is into the GGUF mmap. Shapes in ggml order (ne0 = contiguous = input features).
typedef struct {
    const GGUFTensor *attn_norm;    // (dim)
    const GGUFTensor *wq;           // (dim -> n_head*head_dim)      attn_q
    const GGUFTensor *wk;           // (dim -> n_kv_head*head_dim)   attn_k
    const GGUFTensor *wv;           // (dim -> n_kv_head*head_dim)   attn_v
    const GGUFTensor *q_norm;       // (head_dim)                    attn_q_norm
    const GGUFTensor *k_norm;       // (head_dim)                    attn_k_norm
    const GGUFTensor *wo;           // (n_head*head_dim -> dim)      attn_output
    const GGUFTensor *ffn_norm;     // (dim)
    const GGUFTensor *w_gate;       // (dim -> ffn_dim)              ffn_gate
    const GGUFTensor *w_up;         // (dim -> ffn_dim)              ffn_up
    const GGUFTensor *w_down;       // (ffn_dim -> dim)              ffn_down
} Qwen3Layer;

typedef struct {
    GGUFFile gguf;
    Qwen3Config cfg;
    const GGUFTensor *tok_embd;     // (dim, vocab)
    const GGUFTensor *output_norm;  // (dim)
    const GGUFTensor *output;       // (dim, vocab); == tok_embd when tied
    Qwen3Layer layer[QWEN3_MAX_LAYERS];
} Qwen3Model;

// Opens the GGUF, reads the config, finds and checks every tensor (name, shape, supported type).
// Returns -1 with a one-line message in err (e.g. "x.gguf: architecture is 'llama', expected 'qwen3'").
int  qwen3_load(Qwen3Model *m, const char *path, char *err, size_t errlen);
void qwen3_free(Qwen3Model *m);
void qwen3_print_config(const Qwen3Config *c, FILE *out);
