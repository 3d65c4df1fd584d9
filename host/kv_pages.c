// kv_pages.c — the KV-cache page pool's bookkeeping (kv_pages.h): a free-list stack and a page table per sequence.
#include "kv_pages.h"
#include "util.h"
#include <stdlib.h>

void kvp_init(KvPages *p, int n_pages, int max_seqs, int max_ctx, int unused, int *table) {
    p->n_pages = n_pages;
    p->max_seqs = max_seqs;
    p->max_pages = kvp_pages_for(max_ctx);
    p->unused = unused;
    p->table = table ? table : xmalloc(sizeof(int) * (size_t)max_seqs * p->max_pages);
    p->held = xcalloc((size_t)max_seqs, sizeof(int));
    p->free_list = xmalloc(sizeof(int) * (size_t)(n_pages > 0 ? n_pages : 1));
    for (size_t i = 0; i < (size_t)max_seqs * p->max_pages; i++) p->table[i] = unused;
    // the stack pops page 0 first: a fresh engine hands out pages in order (easier to read in a debugger)
    for (int i = 0; i < n_pages; i++) p->free_list[i] = n_pages - 1 - i;
    p->n_free = n_pages;
    p->dirty_lo = 0;
    p->dirty_hi = max_seqs - 1;
    p->own_table = table == NULL;
}

void kvp_free(KvPages *p) {
    if (p->own_table) free(p->table);
    free(p->held);
    free(p->free_list);
}

static void mark(KvPages *p, int seq) {
    if (seq < p->dirty_lo) p->dirty_lo = seq;
    if (seq > p->dirty_hi) p->dirty_hi = seq;
}

int kvp_grow(KvPages *p, int seq, int new_len) {
    int need = kvp_need(p, seq, new_len);
    if (need > p->n_free || p->held[seq] + need > p->max_pages) return -1;
    int *row = p->table + (size_t)seq * p->max_pages;
    for (int i = 0; i < need; i++) row[p->held[seq]++] = p->free_list[--p->n_free];
    if (need) mark(p, seq);
    return 0;
}

void kvp_shrink(KvPages *p, int seq, int len) {
    int keep = kvp_pages_for(len);
    int *row = p->table + (size_t)seq * p->max_pages;
    if (p->held[seq] > keep) mark(p, seq);
    while (p->held[seq] > keep) {
        int pg = row[--p->held[seq]];
        row[p->held[seq]] = p->unused;
        p->free_list[p->n_free++] = pg;
    }
}
