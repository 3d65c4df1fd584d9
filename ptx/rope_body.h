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
    // --- RMSNorm over the head (warp butterfly), times the norm weight, then RoPE (rope_math.h) ---
    HEAD_NORM_ROT(%rd_w, %rd2)

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
    // --- k or v head (o0..o3) to the fp8 pool (rope_math.h's FP8_ROW: rounded to bf16, then e4m3 with the row's
    // scale) ---
    FP8_ROW
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
