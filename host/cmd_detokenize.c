// cmd_detokenize.c — `qwen3-ptx detokenize -m MODEL`: token ids on stdin (whitespace or comma separated) ->
// text on stdout, through the same streaming detokenizer the generator uses (bytes that never complete a
// UTF-8 character come out as U+FFFD).
#include "../gguf/gguf.h"
#include "tokenizer.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
        "usage: qwen3-ptx detokenize -m MODEL.gguf < ids\n"
        "  Reads token ids (decimal, separated by spaces, newlines or commas; [ ] ignored) and writes their text.\n"
        "  Special tokens (<|im_end|>, <think>, ...) are written as their text.\n");
}

int cmd_detokenize(int argc, char **argv) {
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else { fprintf(stderr, "qwen3-ptx: detokenize: unknown option '%s'\n", argv[i]); usage(stderr); return 1; }
    }
    if (!model) { fprintf(stderr, "qwen3-ptx: detokenize: -m MODEL is required\n"); usage(stderr); return 1; }
    char err[512];
    GGUFFile f;
    if (gguf_open(&f, model, err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); return 1; }
    Tokenizer *t = tok_load(&f, err, sizeof err);
    if (!t) { fprintf(stderr, "qwen3-ptx: %s\n", err); gguf_close(&f); return 1; }
    TokStream st = { { 0 }, 0 };
    char out[8192], word[64];
    int c, rc = 0;
    long count = 0;
    for (;;) {
        while ((c = getchar()) != EOF && (isspace(c) || c == ',' || c == '[' || c == ']')) {}
        if (c == EOF) break;
        size_t n = 0;
        while (c != EOF && !isspace(c) && c != ',' && c != '[' && c != ']') {
            if (n + 1 < sizeof word) word[n++] = (char)c;
            c = getchar();
        }
        word[n] = 0;
        char *end;
        long id = strtol(word, &end, 10);
        count++;
        if (!n || *end || end == word) { fprintf(stderr, "qwen3-ptx: stdin: item %ld '%s' is not a token id\n", count, word); rc = 1; break; }
        if (id < 0 || id >= tok_vocab(t)) {
            fprintf(stderr, "qwen3-ptx: stdin: token id %ld out of range (vocabulary has %d)\n", id, tok_vocab(t));
            rc = 1;
            break;
        }
        size_t w = tok_stream_push(t, &st, (int)id, out, sizeof out);
        fwrite(out, 1, w, stdout);
    }
    size_t w = tok_stream_flush(&st, out, sizeof out);
    fwrite(out, 1, w, stdout);
    fflush(stdout);
    tok_free(t);
    gguf_close(&f);
    return rc;
}
