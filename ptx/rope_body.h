// rope_body.h — the qknorm_rope_kv entry of ptx/rope.ptx, included once per KV-cache dtype and input type with
// ROPE_ENTRY (the entry's name), KV_FP8 (0: bf16 pools; 1: e4m3 pools + f32 row scales, two more parameters after
// p_v_cache) and QKV16 (0: qkv f32; 1: qkv bf16, as the qkv GEMM stores it for the FP8 engine's larger steps)
// defined. Everything but the qkv load and the k/v store is the same text in all four.
.visible .entry ROPE_ENTRY(ROPE_PARAMS)
.reqntid ROPE_THREADS, 1, 1
{
    PDL_START
    .reg .pred %p<6>, %pb;
    .reg .b32 %r_T, %r_t, %r_head, %r_nhead, %r_nkv, %r_H, %r_maxpages, %r_lane, %r_slot, %r_pos, %r_kh, %r_bit, %r<8>;
    .reg .b32 %h0, %h1;
    .reg .b64 %rd_src, %rd_dst, %rd_w, %rd_qout, %rd_kc, %rd_vc, %rd_qn, %rd_kn, %rd_slot, %rd_pos, %rd_bt, %rd<8>;
    .reg .f32 %x<4>, %w<4>, %y<4>, %o<4>, %ss, %t, %rstd, %eps, %s0, %c0, %s1, %c1, %fred;
    .reg .f64 %dr, %dp, %db, %dpos, %dth, %dk, %dred;
#if KV_FP8
    .reg .pred %pz;
    .reg .b16 %b<4>;
    .reg .b64 %rd_ks, %rd_vs, %rd_sc;
    .reg .f32 %amax, %scale, %inv;
#endif

    // --- which token, which head ---
    ld.param.u32 %r_T, [p_T];
    ld.param.u32 %r_nhead, [p_n_head];
    ld.param.u32 %r_nkv, [p_n_kv];
    mov.u32 %r_t, %ctaid.x;
    setp.ge.u32 %p1, %r_t, %r_T;
    @%p1 bra DONE;
    mov.u32 %r1, %tid.x;
    and.b32 %r_lane, %r1, 31;
    shr.u32 %r2, %r1, 5;
    mov.u32 %r3, %ctaid.y;
    mad.lo.u32 %r_head, %r3, ROPE_WARPS, %r2;   // 0 .. H-1 over q, k, v heads
    shl.b32 %r_H, %r_nkv, 1;
    add.u32 %r_H, %r_H, %r_nhead;
    setp.ge.u32 %p1, %r_head, %r_H;             // warp-uniform: whole warps leave
    @%p1 bra DONE;

    ROPE_LOAD_PARAMS

    // --- load this lane's 4 elements of head (t, head): qkv + ((t*H + head)*128 + 2*lane) elements ---
    mad.lo.u32 %r4, %r_t, %r_H, %r_head;
    mul.wide.u32 %rd2, %r_lane, 8;              // (8 * lane: also the norm weights' offset below)
#if QKV16
    mul.wide.u32 %rd1, %r4, HEAD_DIM*2;
    add.u64 %rd_src, %rd_src, %rd1;
    mul.wide.u32 %rd1, %r_lane, 4;
    add.u64 %rd_src, %rd_src, %rd1;
    ld.global.nc.b32 %h0, [%rd_src];            // bf16 pair: element 2l in the low half
    ld.global.nc.b32 %h1, [%rd_src+HEAD_DIM];
    UNPACK_BF16
#else
    mul.wide.u32 %rd1, %r4, HEAD_DIM*4;
    add.u64 %rd_src, %rd_src, %rd1;
    add.u64 %rd_src, %rd_src, %rd2;
    ld.global.nc.v2.f32 {%x0, %x1}, [%rd_src];
    ld.global.nc.v2.f32 {%x2, %x3}, [%rd_src+HEAD_DIM*2];
#endif

    // slot and position of token t
    mul.wide.u32 %rd3, %r_t, 4;
    add.u64 %rd4, %rd_slot, %rd3;
    ld.global.nc.u32 %r_slot, [%rd4];
    add.u64 %rd4, %rd_pos, %rd3;
    ld.global.nc.u32 %r_pos, [%rd4];

    // --- route: q head -> q_out row; k / v head -> pool row [page][kh][pos % 64], page from the block table ---
    setp.lt.u32 %p2, %r_head, %r_nhead;
    @%p2 bra QHEAD;
    sub.u32 %r_kh, %r_head, %r_nhead;
    setp.ge.u32 %p3, %r_kh, %r_nkv;             // v head?
    @%p3 sub.u32 %r_kh, %r_kh, %r_nkv;
    shr.u32 %r5, %r_pos, PAGE_SHIFT;
    mad.lo.u32 %r5, %r_slot, %r_maxpages, %r5;  // block_table[slot][pos / 64]
    mul.wide.u32 %rd5, %r5, 4;
    add.u64 %rd5, %rd_bt, %rd5;
    ld.global.nc.u32 %r5, [%rd5];               // the page
    mad.lo.u32 %r5, %r5, %r_nkv, %r_kh;         // page*n_kv + kh (< 2^32: pages x kv heads is small)
    mul.wide.u32 %rd5, %r5, 64;                 // 64-bit from here: the pool can exceed 2^32 elements
    and.b32 %r6, %r_pos, 63;
    cvt.u64.u32 %rd6, %r6;
    add.u64 %rd5, %rd5, %rd6;
#if KV_FP8
    // fp8 pools: rows of 128 e4m3 bytes, and the row's f32 scale at the same index of the scale pool
    ld.param.u64 %rd_ks, [p_k_scale];
    ld.param.u64 %rd_vs, [p_v_scale];
    cvta.to.global.u64 %rd_ks, %rd_ks;
    cvta.to.global.u64 %rd_vs, %rd_vs;
    selp.b64 %rd_sc, %rd_vs, %rd_ks, %p3;
    shl.b64 %rd6, %rd5, 2;
    add.u64 %rd_sc, %rd_sc, %rd6;               // &scale[page][kh][pos % 64]
    shl.b64 %rd5, %rd5, 7;                      // * head_dim bytes
#else
    shl.b64 %rd5, %rd5, 8;                      // * head_dim * 2 bytes
#endif
    selp.b64 %rd_dst, %rd_vc, %rd_kc, %p3;
    add.u64 %rd_dst, %rd_dst, %rd5;
    mov.u64 %rd_w, %rd_kn;
    @!%p3 bra NORM;

#if KV_FP8
    // --- v head: quantise the values as they are ---
    mov.f32 %o0, %x0;
    mov.f32 %o1, %x1;
    mov.f32 %o2, %x2;
    mov.f32 %o3, %x3;
    bra STORE_FP8;
#endif
    // --- v head: copy as bf16 ---
    mul.wide.u32 %rd7, %r_lane, 4;
    add.u64 %rd_dst, %rd_dst, %rd7;
    cvt.rn.bf16x2.f32 %h0, %x1, %x0;            // first source -> upper half
    cvt.rn.bf16x2.f32 %h1, %x3, %x2;
    st.global.b32 [%rd_dst], %h0;
    st.global.b32 [%rd_dst+HEAD_DIM], %h1;
    bra DONE;

QHEAD:
    mad.lo.u32 %r5, %r_t, %r_nhead, %r_head;
    mul.wide.u32 %rd5, %r5, HEAD_DIM*2;
    add.u64 %rd_dst, %rd_qout, %rd5;
    mov.u64 %rd_w, %rd_qn;

NORM:
    // --- RMSNorm over the head (warp butterfly), times the norm weight ---
    mul.rn.f32 %ss, %x0, %x0;
    fma.rn.f32 %ss, %x1, %x1, %ss;
    fma.rn.f32 %ss, %x2, %x2, %ss;
    fma.rn.f32 %ss, %x3, %x3, %ss;
    WARP_SUM(%ss, %t)
    mul.rn.f32 %t, %ss, 0f3C000000;             // / 128 (exact)
    add.rn.f32 %t, %t, %eps;
    sqrt.rn.f32 %t, %t;
    rcp.rn.f32 %rstd, %t;
    add.u64 %rd_w, %rd_w, %rd2;                 // + 8*lane
    ld.global.nc.v2.f32 {%w0, %w1}, [%rd_w];
    ld.global.nc.v2.f32 {%w2, %w3}, [%rd_w+HEAD_DIM*2];
    mul.rn.f32 %y0, %x0, %rstd;
    mul.rn.f32 %y0, %y0, %w0;
    mul.rn.f32 %y1, %x1, %rstd;
    mul.rn.f32 %y1, %y1, %w1;
    mul.rn.f32 %y2, %x2, %rstd;
    mul.rn.f32 %y2, %y2, %w2;
    mul.rn.f32 %y3, %x3, %rstd;
    mul.rn.f32 %y3, %y3, %w3;

    ANGLES                                      // (s0, c0), (s1, c1) of elements 2l, 2l + 1

    // --- rotate the pairs (2l, 64+2l) and (2l+1, 65+2l) ---
    mul.rn.f32 %o0, %y2, %s0;
    neg.f32 %o0, %o0;
    fma.rn.f32 %o0, %y0, %c0, %o0;              // y0 cos - y2 sin
    mul.rn.f32 %o2, %y0, %s0;
    fma.rn.f32 %o2, %y2, %c0, %o2;              // y2 cos + y0 sin
    mul.rn.f32 %o1, %y3, %s1;
    neg.f32 %o1, %o1;
    fma.rn.f32 %o1, %y1, %c1, %o1;
    mul.rn.f32 %o3, %y1, %s1;
    fma.rn.f32 %o3, %y3, %c1, %o3;

#if KV_FP8
    @!%p2 bra STORE_FP8;                        // a k head: to the fp8 pool
#endif
    // --- store bf16 (first cvt source -> upper half = odd element) ---
    mul.wide.u32 %rd7, %r_lane, 4;
    add.u64 %rd_dst, %rd_dst, %rd7;
    cvt.rn.bf16x2.f32 %h0, %o1, %o0;
    cvt.rn.bf16x2.f32 %h1, %o3, %o2;
    st.global.b32 [%rd_dst], %h0;
    st.global.b32 [%rd_dst+HEAD_DIM], %h1;
#if KV_FP8
    bra DONE;

STORE_FP8:
    // --- k or v head (o0..o3) to the fp8 pool: first rounded to bf16, so that the fp8 row is exactly the
    // quantisation of the row the bf16 cache would hold; scale = amax / 448 over the 128 values (an all-zero row:
    // 1), e4m3 = satfinite(x * (1 / scale)) to nearest, as ptx/quant_fp8.ptx does ---
    cvt.rn.bf16x2.f32 %h0, %o1, %o0;
    cvt.rn.bf16x2.f32 %h1, %o3, %o2;
    mov.b32 {%b0, %b1}, %h0;
    mov.b32 {%b2, %b3}, %h1;
    cvt.f32.bf16 %o0, %b0;
    cvt.f32.bf16 %o1, %b1;
    cvt.f32.bf16 %o2, %b2;
    cvt.f32.bf16 %o3, %b3;
    abs.f32 %amax, %o0;
    abs.f32 %t, %o1;
    max.f32 %amax, %amax, %t;
    abs.f32 %t, %o2;
    max.f32 %amax, %amax, %t;
    abs.f32 %t, %o3;
    max.f32 %amax, %amax, %t;
    WARP_MAX(%amax, %t)
    setp.gt.f32 %pz, %amax, 0f00000000;
    div.rn.f32 %scale, %amax, 0f43E00000;       // / 448
    @!%pz mov.f32 %scale, 0f3F800000;
    rcp.rn.f32 %inv, %scale;
    mul.rn.f32 %o0, %o0, %inv;
    mul.rn.f32 %o1, %o1, %inv;
    mul.rn.f32 %o2, %o2, %inv;
    mul.rn.f32 %o3, %o3, %inv;
    cvt.rn.satfinite.e4m3x2.f32 %b0, %o1, %o0;  // first source -> high byte = odd element
    cvt.rn.satfinite.e4m3x2.f32 %b1, %o3, %o2;
    mul.wide.u32 %rd7, %r_lane, 2;
    add.u64 %rd_dst, %rd_dst, %rd7;
    st.global.b16 [%rd_dst], %b0;
    st.global.b16 [%rd_dst+64], %b1;               // elements 64 + 2l, 65 + 2l
    setp.eq.u32 %p4, %r_lane, 0;
    @%p4 st.global.f32 [%rd_sc], %scale;
#endif
DONE:
    ret;
}
