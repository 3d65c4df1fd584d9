// kv_pages.h — the KV-cache page pool's bookkeeping, shared by the CPU and GPU engines: a free list of page ids
// and, per sequence, the table of the pages that hold its positions (page p holds positions p*KV_PAGE ..
// p*KV_PAGE + KV_PAGE-1). A sequence of len tokens holds exactly ceil(len / KV_PAGE) pages: they are taken as it
// grows and given back when it is freed or truncated, so the pool, not max_seqs x max_ctx, bounds the memory.
// defines: KV_PAGE, KvPages, kvp_init, kvp_pages_for, kvp_need, kvp_grow, kvp_shrink, kvp_free
#pragma once

// Tokens per page. The attention kernel's key tile is 64 keys: one page is one tile, so the kernel looks up one
// page id per tile (ptx/attention.ptx, ATT_KT). Change both together.
#define KV_PAGE 64

typedef struct {
    int n_pages;        // pages in the pool
    int max_seqs;       // table rows
    int max_pages;      // table columns: pages one sequence may hold, ceil(max_ctx / KV_PAGE)
    int *table;         // [max_seqs][max_pages] page ids; entries past a sequence's pages hold `unused`
    int *held;          // [max_seqs] pages each sequence holds
    int *free_list;     // [n_pages] a stack of free page ids
    int n_free;
    int unused;         // the value of table entries that hold no page (the GPU points them at a scratch page)
    int dirty_lo, dirty_hi;  // table rows changed since kvp_clean (lo > hi: none), for the GPU's upload
    int own_table;
} KvPages;

// table may be NULL (then it is malloc'd); pass a pinned buffer of max_seqs * max_pages ints to upload from it.
void kvp_init(KvPages *p, int n_pages, int max_seqs, int max_ctx, int unused, int *table);
void kvp_free(KvPages *p);   // frees what kvp_init allocated (not a caller's table)
static inline int kvp_pages_for(int tokens) { return (tokens + KV_PAGE - 1) / KV_PAGE; }
// Pages seq must take to grow from len to new_len tokens.
static inline int kvp_need(const KvPages *p, int seq, int new_len) {
    int n = kvp_pages_for(new_len) - p->held[seq];
    return n > 0 ? n : 0;
}
// Takes pages so that seq holds ceil(new_len / KV_PAGE). 0, or -1 (nothing taken) when the pool has too few.
int  kvp_grow(KvPages *p, int seq, int new_len);
// Gives back the pages past ceil(len / KV_PAGE).
void kvp_shrink(KvPages *p, int seq, int len);
static inline void kvp_clean(KvPages *p) { p->dirty_lo = p->max_seqs; p->dirty_hi = -1; }
