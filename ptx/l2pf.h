// l2pf.h — an L2 prefetch list carried by a kernel that leaves the DRAM idle, for the kernels after it.
// Why: at batch 1 the decode attention (and the RoPE before it) is a chain of dependent round trips over a few
// hundred KB of cache: ~7 us a layer in which the DRAM does almost nothing, right before the o projection and gate/up
// stream ~65 MB of weights (the 8B, Q4_K). Weights are immutable, so the attention's CTAs can ask L2 for the next
// layers' first bytes before their own wait (cp.async.bulk.prefetch.L2: fire and forget, no register or shared
// memory held); the weight kernels then find those lines in L2 (NOTES, session 34). The host decides which bytes
// (host/gpu_engine.c, l2pf_plan): whole ranges in the order the next kernels' warps take them.
//
// L2PF_PARAM declares the list, L2PF_N ranges { .u64 address (global), .u64 bytes } (both multiples of 16; bytes 0:
// unused). L2PF issues it: every range is cut into pieces of L2PF_CH bytes, and piece i goes to thread i / nctas of
// CTA i % nctas (CTA-major: a range's pieces spread over the SMs, not over one CTA's threads). A launch without a list
// (all zero) costs L2PF_N x 2 param loads and a compare.
#ifndef L2PF_H
#define L2PF_H
#define L2PF_N 12                           // (L2PF_BYTES = 16 L2PF_N: the param's size)
#define L2PF_BYTES 192
#define L2PF_CH 8192
#define L2PF_PARAM .param .align 8 .b8 p_pf[L2PF_BYTES]

#define L2PF_RANGE(r) \
    ld.param.u64 %pf_a, [%pf_q]; \
    ld.param.u64 %pf_n, [%pf_q + 8]; \
    add.u64 %pf_q, %pf_q, 16; \
    cvta.to.global.u64 %pf_a, %pf_a; \
    mov.u64 %pf_o, %pf_i0; \
L2PF_LOOP##r: \
    setp.ge.u64 %pf_p, %pf_o, %pf_n; \
    @%pf_p bra L2PF_DONE##r; \
    sub.u64 %pf_s, %pf_n, %pf_o; \
    min.u64 %pf_s, %pf_s, L2PF_CH; \
    cvt.u32.u64 %pf_w, %pf_s; \
    add.u64 %pf_x, %pf_a, %pf_o; \
    cp.async.bulk.prefetch.L2.global [%pf_x], %pf_w; \
    add.u64 %pf_o, %pf_o, %pf_st; \
    bra L2PF_LOOP##r; \
L2PF_DONE##r:

#define L2PF { \
    .reg .u64 %pf_q, %pf_a, %pf_n, %pf_o, %pf_s, %pf_x, %pf_i0, %pf_st; .reg .u32 %pf_c, %pf_nc, %pf_t, %pf_w; \
    .reg .pred %pf_p; \
    mov.u32 %pf_c, %ctaid.z; mov.u32 %pf_t, %nctaid.y; mov.u32 %pf_w, %ctaid.y; \
    mad.lo.u32 %pf_c, %pf_c, %pf_t, %pf_w; \
    mov.u32 %pf_t, %nctaid.x; mov.u32 %pf_w, %ctaid.x; \
    mad.lo.u32 %pf_c, %pf_c, %pf_t, %pf_w;      /* this CTA's linear index */ \
    mov.u32 %pf_nc, %nctaid.y; mul.lo.u32 %pf_nc, %pf_nc, %pf_t; mov.u32 %pf_t, %nctaid.z; \
    mul.lo.u32 %pf_nc, %pf_nc, %pf_t;           /* CTAs in the grid */ \
    mov.u32 %pf_t, %tid.x; \
    mad.lo.u32 %pf_t, %pf_t, %pf_nc, %pf_c;     /* first piece */ \
    mul.wide.u32 %pf_i0, %pf_t, L2PF_CH; \
    mov.u32 %pf_t, %ntid.x; mul.lo.u32 %pf_t, %pf_t, %pf_nc; \
    mul.wide.u32 %pf_st, %pf_t, L2PF_CH;        /* stride: every thread of the grid */ \
    mov.u64 %pf_q, p_pf; \
    CAT(REP, L2PF_N)(L2PF_RANGE) \
}
#endif
