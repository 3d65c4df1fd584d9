// gemm_plan.c — the GEMM tile plan: a text parser that refuses anything it does not understand with one line
// naming the file and line, a lookup by binary search (launch_gemm asks on every call), and the writer that
// bench/gemm --sweep uses. The format is in gemm_plan.h.
#include "gemm_plan.h"
#include "gpu_ops.h"
#include "util.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PLAN_MAGIC "qwen3-gemm-plan"
enum { PLAN_VERSION = 1, PLAN_CARD_MAX = 256 };

typedef struct { int dtype, N, K, m_lo, m_hi, tile, splits, line; } PlanEntry;  // m_hi INT_MAX: no upper end
static PlanEntry *plan;                                                          // sorted by (dtype, N, K, m_lo)
static int plan_n;
typedef struct { const char *name, *text; } EmbeddedPlan;
extern const EmbeddedPlan embedded_plans[];  // build/plans.c (host/embed_plans.sh)

static const char *dtype_names[] = { "bf16", "fp8" };

void gemm_plan_clear(void) {
    free(plan);
    plan = NULL;
    plan_n = 0;
}

static int key_cmp(int d1, int n1, int k1, int m1, int d2, int n2, int k2, int m2) {
    if (d1 != d2) return d1 < d2 ? -1 : 1;
    if (n1 != n2) return n1 < n2 ? -1 : 1;
    if (k1 != k2) return k1 < k2 ? -1 : 1;
    return m1 < m2 ? -1 : m1 > m2;
}
static int entry_cmp(const void *a, const void *b) {
    const PlanEntry *x = a, *y = b;
    return key_cmp(x->dtype, x->N, x->K, x->m_lo, y->dtype, y->N, y->K, y->m_lo);
}

int gemm_plan_pick(int dtype, int M, int N, int K, int *tile, int *splits) {
    // the last entry whose (dtype, N, K, m_lo) <= (dtype, N, K, M)
    int lo = 0, hi = plan_n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const PlanEntry *e = &plan[mid];
        if (key_cmp(e->dtype, e->N, e->K, e->m_lo, dtype, N, K, M) <= 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return 0;
    const PlanEntry *e = &plan[lo - 1];
    if (e->dtype != dtype || e->N != N || e->K != K || M > e->m_hi) return 0;
    *tile = e->tile;
    *splits = e->splits;
    return 1;
}

// ---------------------------------------------------------------- parsing
// A whole token as an int in [lo, hi]; "inf" as INT_MAX when inf_ok.
static int parse_int(const char *tok, int lo, int hi, int inf_ok, int *out) {
    if (inf_ok && !strcmp(tok, "inf")) { *out = INT_MAX; return 0; }
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (errno || end == tok || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

// Cuts a '#' comment (outside double quotes) and trailing white space; returns the first non-blank character.
static char *strip_line(char *s) {
    int quoted = 0;
    for (char *p = s; *p; p++) {
        if (*p == '"') quoted = !quoted;
        else if (*p == '#' && !quoted) { *p = 0; break; }
    }
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

// `qwen3-gemm-plan 1 card="NAME" date=WHEN` -> card; 0 or -1 with what is wrong in why.
static int parse_header(char *s, char *card, const char **why) {
    size_t ml = strlen(PLAN_MAGIC);
    *why = "not a GEMM plan (the first line must be 'qwen3-gemm-plan 1 card=\"...\" date=...')";
    if (strncmp(s, PLAN_MAGIC, ml) || (s[ml] != ' ' && s[ml] != '\t')) return -1;
    char *p = s + ml + strspn(s + ml, " \t");
    int version;
    char *sp = p + strcspn(p, " \t");
    char saved = *sp;
    *sp = 0;
    int bad_version = parse_int(p, 0, INT_MAX, 0, &version) || version != PLAN_VERSION;
    *sp = saved;
    if (bad_version) { *why = "unsupported plan version (this build reads version 1)"; return -1; }
    p = sp + strspn(sp, " \t");
    *why = "header has no card=\"...\"";
    if (strncmp(p, "card=\"", 6)) return -1;
    p += 6;
    char *q = strchr(p, '"');
    if (!q || q == p || (size_t)(q - p) >= PLAN_CARD_MAX) return -1;
    memcpy(card, p, (size_t)(q - p));
    card[q - p] = 0;
    p = q + 1 + strspn(q + 1, " \t");
    *why = "header has no date=... after the card";
    if (strncmp(p, "date=", 5) || !p[5] || strpbrk(p + 5, " \t")) return -1;
    *why = NULL;
    return 0;
}

// `dtype N K M_min M_max tile splits` -> e; 0 or -1 with what is wrong in why.
// splits 1..8, the tail split or a cluster split (which tiles may take them is checked with the tile)
static int plan_splits_ok(int splits) {
    return (splits >= 1 && splits <= GEMM_PLAN_MAX_SPLITS) || splits == GEMM_SPLIT_TAIL || gemm_split_cluster(splits);
}
static int cluster_split_tile(int dtype, int tile) { return gemm_cluster_split_tile(dtype == GEMM_PLAN_FP8, tile); }

static int parse_entry(char *s, PlanEntry *e, const char **why) {
    char *tok[8], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(s, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == 8) break;
        tok[n++] = t;
    }
    if (n != 7) { *why = "expected 7 fields: dtype N K M_min M_max tile splits"; return -1; }
    if (!strcmp(tok[0], "bf16")) e->dtype = GEMM_PLAN_BF16;
    else if (!strcmp(tok[0], "fp8")) e->dtype = GEMM_PLAN_FP8;
    else { *why = "dtype must be bf16 or fp8"; return -1; }
    if (parse_int(tok[1], 1, INT_MAX, 0, &e->N) || parse_int(tok[2], 1, INT_MAX, 0, &e->K)) {
        *why = "N and K must be positive integers";
        return -1;
    }
    if (parse_int(tok[3], 1, INT_MAX, 0, &e->m_lo) || parse_int(tok[4], 1, INT_MAX, 1, &e->m_hi) ||
        e->m_hi < e->m_lo) {
        *why = "M_min and M_max must be integers with 1 <= M_min <= M_max (M_max may be inf)";
        return -1;
    }
    int n_tiles = e->dtype == GEMM_PLAN_BF16 ? GEMM_N_TILES : GEMM_FP8_N_TILES;
    if (parse_int(tok[5], 0, n_tiles - 1, 0, &e->tile)) {
        *why = e->dtype == GEMM_PLAN_BF16 ? "bf16 tile out of range" : "fp8 tile out of range";
        return -1;
    }
    if (parse_int(tok[6], 1, GEMM_SPLIT_CLUSTER + GEMM_SPLIT_CLUSTER_MAX, 0, &e->splits) ||
        !plan_splits_ok(e->splits)) {
        *why = "splits must be 1..8, 16 (the tail split) or 34..36 (a cluster split of 2..4)";
        return -1;
    }
    if (e->splits > 1 && e->dtype != GEMM_PLAN_BF16 && !gemm_fp8_tile_splits(e->tile)) {
        *why = "split-K only exists for the bf16 tiles and FP8 tiles 0, 1, 4, 5, 10, 11";
        return -1;
    }
    if (e->splits == GEMM_SPLIT_TAIL && (e->dtype == GEMM_PLAN_BF16 ? e->tile < GEMM_FIRST_WG || e->tile == GEMM_SW_TILE
                                                                     : e->tile == GEMM_FP8_SW_TILE)) {
        *why = "the tail split (16) only exists for the wgmma tiles";
        return -1;
    }
    if (gemm_split_cluster(e->splits) && !cluster_split_tile(e->dtype, e->tile)) {
        *why = "the cluster split (34..36) only exists for the wgmma tiles that are not multicast pairs";
        return -1;
    }
    return 0;
}

static int load_stream(FILE *f, const char *path, const char *card_name, char *err, size_t errlen);

int gemm_plan_load(const char *path, const char *card_name, char *err, size_t errlen) {
    gemm_plan_clear();
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    return load_stream(f, path, card_name, err, errlen);
}

int gemm_plan_load_text(const char *text, const char *name, const char *card_name, char *err, size_t errlen) {
    gemm_plan_clear();
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f) { snprintf(err, errlen, "%s: fmemopen: %s", name, strerror(errno)); return -1; }
    return load_stream(f, name, card_name, err, errlen);
}

int gemm_plan_load_builtin(const char *card_name, const char **name) {
    char err[512];
    for (int i = 0; embedded_plans[i].name; i++)
        if (gemm_plan_load_text(embedded_plans[i].text, embedded_plans[i].name, card_name, err, sizeof err) == 0) {
            if (name) *name = embedded_plans[i].name;
            return 1;
        }
    return 0;
}

// Reads (and closes) f: the header, then the entries; path names it in messages.
static int load_stream(FILE *f, const char *path, const char *card_name, char *err, size_t errlen) {
    char *line = NULL, card[PLAN_CARD_MAX];
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, have_header = 0, n = 0, n_cap = 0, rc = 0;
    PlanEntry *e = NULL;
    const char *why = NULL;
    while (!why && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) { why = "NUL byte in the file"; break; }
        char *s = strip_line(line);
        if (!*s) continue;
        if (!have_header) {
            if (parse_header(s, card, &why)) break;
            have_header = 1;
            if (strcmp(card, card_name)) {
                snprintf(err, errlen, "%s: measured on '%s', this card is '%s': plan ignored, built-in GEMM tiles "
                         "used (rerun bench/gemm --sweep here)", path, card, card_name);
                rc = 1;
                break;
            }
            continue;
        }
        if (n == n_cap) e = xrealloc(e, (size_t)(n_cap = n_cap ? 2 * n_cap : 64) * sizeof *e);
        if (parse_entry(s, &e[n], &why)) break;
        e[n++].line = lineno;
    }
    int read_error = ferror(f);
    free(line);
    fclose(f);
    if (rc == 0 && why) { snprintf(err, errlen, "%s:%d: %s", path, lineno, why); rc = -1; }
    else if (rc == 0 && read_error) { snprintf(err, errlen, "%s: read error", path); rc = -1; }
    else if (rc == 0 && !have_header) {
        snprintf(err, errlen, "%s: empty plan (no 'qwen3-gemm-plan' header line)", path);
        rc = -1;
    }
    if (rc == 0) {
        qsort(e, (size_t)n, sizeof *e, entry_cmp);
        for (int i = 1; i < n; i++)
            if (e[i].dtype == e[i - 1].dtype && e[i].N == e[i - 1].N && e[i].K == e[i - 1].K &&
                e[i].m_lo <= e[i - 1].m_hi) {
                int a = e[i].line < e[i - 1].line ? e[i].line : e[i - 1].line;
                int b = e[i].line < e[i - 1].line ? e[i - 1].line : e[i].line;
                snprintf(err, errlen, "%s:%d: M range overlaps line %d (same dtype, N, K)", path, b, a);
                rc = -1;
                break;
            }
    }
    if (rc != 0) { free(e); return rc; }
    plan = e;
    plan_n = n;
    return 0;
}

// ---------------------------------------------------------------- writing
static int point_cmp(const void *a, const void *b) {
    const GemmPlanPoint *x = a, *y = b;
    int c = key_cmp(x->dtype, x->N, x->K, x->M, y->dtype, y->N, y->K, y->M);
    return c ? c : (x->us < y->us ? -1 : x->us > y->us);
}

int gemm_plan_write(const char *path, const char *card_name, const GemmPlanPoint *pts, int n, char *err,
                    size_t errlen) {
    if (strchr(card_name, '"') || strchr(card_name, '\n') || strlen(card_name) >= PLAN_CARD_MAX) {
        snprintf(err, errlen, "%s: card name '%s' cannot be written into a plan", path, card_name);
        return -1;
    }
    GemmPlanPoint *p = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    int m = 0;
    for (int i = 0; i < n; i++) {
        const GemmPlanPoint *q = &pts[i];
        int n_tiles = q->dtype == GEMM_PLAN_FP8 ? GEMM_FP8_N_TILES : GEMM_N_TILES;
        int rules = q->tile == GEMM_PLAN_RULES;
        if ((q->dtype != GEMM_PLAN_BF16 && q->dtype != GEMM_PLAN_FP8) || q->N < 1 || q->K < 1 || q->M < 1 ||
            (!rules && (q->tile < 0 || q->tile >= n_tiles || q->splits < 1 ||
                        !plan_splits_ok(q->splits) ||
                        (gemm_split_cluster(q->splits) && !cluster_split_tile(q->dtype, q->tile)) ||
                        (q->splits > 1 && q->dtype != GEMM_PLAN_BF16 && !gemm_fp8_tile_splits(q->tile))))) {
            snprintf(err, errlen, "%s: bad plan point dtype %d N %d K %d M %d tile %d splits %d", path, q->dtype,
                     q->N, q->K, q->M, q->tile, q->splits);
            free(p);
            return -1;
        }
        p[m] = *q;
        if (rules) p[m].splits = 1;  // one kind of rules point, so that a run of them merges
        m++;
    }
    qsort(p, (size_t)m, sizeof *p, point_cmp);
    int u = 0;  // a repeated (dtype, N, K, M): the first after sorting is the fastest
    for (int i = 0; i < m; i++)
        if (!u || key_cmp(p[i].dtype, p[i].N, p[i].K, p[i].M, p[u - 1].dtype, p[u - 1].N, p[u - 1].K, p[u - 1].M))
            p[u++] = p[i];
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
        free(p);
        return -1;
    }
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    fprintf(f, PLAN_MAGIC " %d card=\"%s\" date=%s\n", PLAN_VERSION, card_name, date);
    fprintf(f, "# written by bench/gemm --sweep. dtype N K M_min M_max tile splits  # per measured M: best us "
               "(built-in us)\n");
    // A run of the swapped decode tile stops at 64 rows (above it runs as chunks of 64, each reading W again): the
    // rows past it up to the next measured M go to the next run.
    int lo = 0;
    for (int i = 0; i < u;) {
        int j = i;  // p[i..j]: consecutive measured Ms of one (dtype, N, K) with the same winner
        while (j + 1 < u && p[j + 1].dtype == p[i].dtype && p[j + 1].N == p[i].N && p[j + 1].K == p[i].K &&
               p[j + 1].tile == p[i].tile && p[j + 1].splits == p[i].splits)
            j++;
        int next_same = j + 1 < u && p[j + 1].dtype == p[i].dtype && p[j + 1].N == p[i].N && p[j + 1].K == p[i].K;
        int sw = p[i].tile == (p[i].dtype == GEMM_PLAN_FP8 ? GEMM_FP8_SW_TILE : GEMM_SW_TILE) && p[j].M <= 64;
        long hi_m = next_same ? p[j + 1].M - 1 : -1;  // -1: inf
        if (sw && (hi_m < 0 || hi_m > 64)) hi_m = 64;
        if (!lo || lo > p[i].M) lo = p[i].M;
        char hi[16];
        if (hi_m >= 0) snprintf(hi, sizeof hi, "%ld", hi_m);
        else snprintf(hi, sizeof hi, "inf");
        if (p[i].tile == GEMM_PLAN_RULES)  // a comment: no entry, so the rules keep these rows
            fprintf(f, "# %s %d %d %d %s: the built-in rules  #", dtype_names[p[i].dtype], p[i].N, p[i].K, lo, hi);
        else
            fprintf(f, "%s %d %d %d %s %d %d  #", dtype_names[p[i].dtype], p[i].N, p[i].K, lo, hi, p[i].tile,
                    p[i].splits);
        lo = next_same && hi_m >= 0 && hi_m + 1 < p[j + 1].M ? (int)hi_m + 1 : 0;
        for (int k = i; k <= j; k++) fprintf(f, " M=%d %.2f (%.2f)", p[k].M, p[k].us, p[k].builtin_us);
        fputc('\n', f);
        i = j + 1;
    }
    free(p);
    if (ferror(f) | fclose(f)) {
        snprintf(err, errlen, "%s: write error", path);
        return -1;
    }
    return 0;
}
