// cmd_tokenize.c — `qwen3-ptx tokenize -m MODEL [--ids|--pieces] [--special]`: text on stdin -> token ids.
// Loads only the GGUF metadata (mmap) and the tokenizer, so it works on any model file, even a vocab-only one.
#include "../gguf/gguf.h"
#include "tokenizer.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
        "usage: qwen3-ptx tokenize -m MODEL.gguf [--ids | --pieces] [--special] < text\n"
        "  Encodes all of stdin (UTF-8) with the model's tokenizer.\n"
        "  --ids      token ids separated by spaces, one line (default)\n"
        "  --pieces   one token per line: id, a tab, and its bytes (\\n, \\t, \\\\ and bytes that are not\n"
        "             complete UTF-8 escaped as \\xNN)\n"
        "  --special  match special-token text such as <|im_start|> or <think> as single tokens; without it\n"
        "             that text is tokenized as ordinary characters\n");
}

static char *read_stdin(size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) { cap *= 2; buf = xrealloc(buf, cap); }
        size_t r = fread(buf + len, 1, cap - len, stdin);
        len += r;
        if (r == 0) break;
    }
    if (ferror(stdin)) die("stdin: read error");
    *n = len;
    return buf;
}

// Prints a piece readably: valid UTF-8 as is, control bytes and broken sequences as escapes.
static void print_piece(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '\n') { fputs("\\n", stdout); i++; continue; }
        if (c == '\t') { fputs("\\t", stdout); i++; continue; }
        if (c == '\r') { fputs("\\r", stdout); i++; continue; }
        if (c == '\\') { fputs("\\\\", stdout); i++; continue; }
        if (c < 0x20 || c == 0x7F) { printf("\\x%02X", c); i++; continue; }
        if (c < 0x80) { putchar(c); i++; continue; }
        int k = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
        int ok = k && i + (size_t)k <= n;
        for (int j = 1; ok && j < k; j++) ok = (p[i + (size_t)j] & 0xC0) == 0x80;
        if (ok) { fwrite(p + i, 1, (size_t)k, stdout); i += (size_t)k; }
        else { printf("\\x%02X", c); i++; }
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL;
    int pieces = 0, special = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--ids")) pieces = 0;
        else if (!strcmp(argv[i], "--pieces")) pieces = 1;
        else if (!strcmp(argv[i], "--special")) special = 1;
        else { fprintf(stderr, "qwen3-ptx: tokenize: unknown option '%s'\n", argv[i]); usage(stderr); return 1; }
    }
    if (!model) { fprintf(stderr, "qwen3-ptx: tokenize: -m MODEL is required\n"); usage(stderr); return 1; }
    char err[512];
    GGUFFile f;
    if (gguf_open(&f, model, err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); return 1; }
    Tokenizer *t = tok_load(&f, err, sizeof err);
    if (!t) { fprintf(stderr, "qwen3-ptx: %s\n", err); gguf_close(&f); return 1; }
    size_t n;
    char *text = read_stdin(&n);
    int cap = (int)(n < (1u << 30) ? n : (1u << 30)) + 16;
    int *ids = xmalloc((size_t)cap * sizeof *ids);
    int k = tok_encode(t, text, n, special, ids, cap);
    if (k < 0) { fprintf(stderr, "qwen3-ptx: stdin: invalid UTF-8\n"); return 1; }
    if (k > cap) { ids = xrealloc(ids, (size_t)k * sizeof *ids); k = tok_encode(t, text, n, special, ids, k); }
    for (int i = 0; i < k; i++) {
        if (!pieces) { printf(i ? " %d" : "%d", ids[i]); continue; }
        size_t pl;
        const char *p = tok_piece(t, ids[i], &pl);
        printf("%d\t", ids[i]);
        print_piece((const unsigned char *)p, pl);
        putchar('\n');
    }
    if (!pieces) putchar('\n');
    free(ids); free(text);
    tok_free(t);
    gguf_close(&f);
    return 0;
}
