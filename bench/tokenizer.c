// tokenizer.c — encode speed of our tokenizer, on one core, two ways: one long text in one tok_encode call
// (the per-call word cache is on), and the same text cut into 1 KB prompts (cache off: a chat prompt's case).
//   build/bench/tokenizer -m MODEL.gguf [-f TEXT_FILE] [--reps N] [--tsv FILE]
// Without -f, 8 MB of mixed text is made: English prose, C code, Chinese, and digits. The JS reference's speed
// on t_tokenizer_ref.sh's corpus is printed by that script, next to ours.
#include "../gguf/gguf.h"
#include "../host/tokenizer.h"
#include "../host/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *make_text(size_t *n) {
    static const char *parts[] = {
        "The quick brown fox jumps over the lazy dog, and it's not the first time we've seen it. ",
        "for (int i = 0; i < n; i++) {\n    acc += x[i] * w[i];  // dot product\n}\n",
        "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x8C\xE6\x88\x91\xE4\xBB\xAC\xE5\x8E\xBB\xE5\x85\xAC\xE5\x9B\xAD\xE3\x80\x82",
        "Invoice 2024-07-15: 1,234.56 USD; ref #A-99812.\n\n",
    };
    size_t cap = 8 << 20, len = 0;
    char *t = xmalloc(cap + 256);
    Rng r;
    rng_seed(&r, 42);
    while (len < cap) {
        const char *p = parts[rng_u64(&r) % 4];
        size_t l = strlen(p);
        memcpy(t + len, p, l);
        len += l;
    }
    *n = len;
    return t;
}

int main(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *tsv = NULL;
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "-f") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tsv") && i + 1 < argc) tsv = argv[++i];
        else die("usage: bench/tokenizer -m MODEL.gguf [-f TEXT_FILE] [--reps N] [--tsv FILE]");
    }
    if (!model) die("usage: bench/tokenizer -m MODEL.gguf [-f TEXT_FILE] [--reps N] [--tsv FILE]");
    char err[512];
    GGUFFile f;
    if (gguf_open(&f, model, err, sizeof err)) die("%s", err);
    double t0 = now_sec();
    Tokenizer *t = tok_load(&f, err, sizeof err);
    if (!t) die("%s", err);
    double load = now_sec() - t0;
    size_t n;
    char *text;
    if (file) {
        FILE *fp = fopen(file, "rb");
        if (!fp) die("%s: cannot open", file);
        fseek(fp, 0, SEEK_END);
        n = (size_t)ftell(fp);
        fseek(fp, 0, SEEK_SET);
        text = xmalloc(n + 1);
        if (fread(text, 1, n, fp) != n) die("%s: short read", file);
        fclose(fp);
    } else text = make_text(&n);
    int cap = (int)n + 16, *ids = xmalloc((size_t)cap * sizeof *ids);
    double best_long = 1e30, best_short = 1e30;
    long tokens = 0;
    for (int r = 0; r < reps; r++) {
        t0 = now_sec();
        int k = tok_encode(t, text, n, 0, ids, cap);
        double dt = now_sec() - t0;
        if (k < 0) die("input is not valid UTF-8");
        tokens = k;
        if (dt < best_long) best_long = dt;
        // 1 KB prompts, cut at a character boundary
        t0 = now_sec();
        for (size_t p = 0; p < n;) {
            size_t e = p + 1024 < n ? p + 1024 : n;
            while (e < n && ((unsigned char)text[e] & 0xC0) == 0x80) e++;
            tok_encode(t, text + p, e - p, 0, ids, cap);
            p = e;
        }
        dt = now_sec() - t0;
        if (dt < best_short) best_short = dt;
    }
    double mb = n / 1e6;
    printf("tokenizer load: %.0f ms (%d tokens)\n", load * 1e3, tok_vocab(t));
    printf("text: %.1f MB -> %ld tokens (%.2f bytes/token)\n", mb, tokens, (double)n / (double)tokens);
    printf("one call   : %.3f s = %6.1f MB/s = %5.1f M tokens/s\n", best_long, mb / best_long, tokens / best_long / 1e6);
    printf("1 KB calls : %.3f s = %6.1f MB/s\n", best_short, mb / best_short);
    if (tsv) {
        FILE *o = fopen(tsv, "a");
        if (!o) die("%s: cannot append", tsv);
        fprintf(o, "tokenizer\t%s\t%.1f\t%.2f\t%.2f\n", file ? file : "mixed-8MB", mb, mb / best_long, mb / best_short);
        fclose(o);
    }
    free(ids); free(text);
    tok_free(t);
    gguf_close(&f);
    return 0;
}
