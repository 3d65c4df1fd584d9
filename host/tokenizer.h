// tokenizer.h — Qwen2/Qwen3 byte-level BPE from the GGUF's tokenizer.ggml.* metadata, exact to the reference.
// defines: Tokenizer, tok_load, tok_encode, tok_decode, TokStream
#pragma once
#include <stddef.h>
#include "../gguf/gguf.h"

typedef struct Tokenizer Tokenizer;
Tokenizer *tok_load(const GGUFFile *f, char *err, size_t errlen);
void tok_free(Tokenizer *t);
int  tok_vocab(const Tokenizer *t);
int  tok_eos(const Tokenizer *t);            // tokenizer.ggml.eos_token_id (<|im_end|> for Qwen3 instruct)
int  tok_id(const Tokenizer *t, const char *piece);  // exact token text -> id, -1 if absent
int  tok_is_special(const Tokenizer *t, int id);     // control / user-defined tokens
// Encodes UTF-8 text. parse_special: recognise special-token text (e.g. "<|im_start|>") as single tokens.
// Returns the number of ids (may exceed cap: call again with a bigger buffer), or -1 on invalid UTF-8 input.
int  tok_encode(const Tokenizer *t, const char *text, size_t len, int parse_special, int *ids, int cap);
// The raw bytes of one token (byte-level decoded); sets *n.
const char *tok_piece(const Tokenizer *t, int id, size_t *n);

// Streaming detokenizer: feed ids, get back only complete UTF-8 (never half a code point).
typedef struct { unsigned char pend[8]; int npend; } TokStream;
// Appends printable text for id to out (cap bytes, NUL-terminated); returns bytes written.
size_t tok_stream_push(const Tokenizer *t, TokStream *s, int id, char *out, size_t cap);
size_t tok_stream_flush(TokStream *s, char *out, size_t cap);  // invalid leftovers become U+FFFD

// Writes the tokenizer.ggml.* keys (and tokenizer.chat_template) converted from a Hugging Face tokenizer.json
// + tokenizer_config.json, as llama.cpp's convert_hf_to_gguf.py does for Qwen3 (token list padded with
// "[PAD<id>]" to 151936). Returns 0, or -1 with err set.
int tok_write_gguf_kv(GGUFWriter *w, const char *tokenizer_json_path, const char *tokenizer_config_json_path,
                      char *err, size_t errlen);

// The end of the pre-tokenizer word that starts at text[i] (valid UTF-8, i < len): one step of the Qwen2 split
// regex. Exposed so tests can compare it with a regex engine.
size_t tok_pretokenize_next(const char *text, size_t len, size_t i);
