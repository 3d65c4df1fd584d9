// rope_tok_body.h — the per-token entries of ptx/rope.ptx (..._tok), for steps of many tokens; included with
// ROPE_ENTRY, KV_FP8 and QKV16 defined as for rope_body.h, same parameters, same outputs bit for bit.
//
// Why: one warp a head (rope_body.h) spends ~120 instructions on each head — its slot / page lookup, its two angles
// in f64, two full-warp butterflies and the correctly rounded sqrt / rcp / div of its norm and fp8 scale — for 128
// values, so at thousands of tokens the kernel is bound by instructions issued, not bytes (~1.0-1.5 TB/s).
//
// Work split: grid (T), block ROPE_TOK_THREADS = 4 warps; CTA t does token t. Each warp works on four heads at a
// time, one per group of 8 lanes (g = lane / 8): heads 4w + g + 16i for i = 0, 1, ... < H / 16 (H = n_head + 2 n_kv).
// Lane j = lane % 8 of a group holds 16 values of its head: elements 8j .. 8j + 7 ("lo") and their NeoX partners
// 64 + 8j .. 64 + 8j + 7 ("hi"). So the per-head scalar work (the norm's sqrt / rcp, the fp8 scale's div / rcp) is
// one warp instruction for four heads, and the reductions are 3 shuffles within a group.
// The launcher needs n_head % 4 == 0 and n_kv % 4 == 0 (every Qwen3): then the four heads of a warp are all q, all k
// or all v, and all below H, so every warp stays converged and shfl.sync can take the full mask.
//
// Bit-identical to rope_body.h: every value goes through the same operations in the same order. The one reduction
// whose rounding depends on order, the sum of squares, is done in the butterfly's order: lane l of the old mapping
// (elements 2l, 2l+1, 64+2l, 65+2l) is sub-slot k = l % 4 of lane j = l / 4 here, its partial p_k summed as there;
// the butterfly's steps 16, 8, 4 (lane bits 4, 3, 2) are shuffles 4, 2, 1 of each p_k, steps 2 and 1 (bits 1, 0)
// are p0 + p2, p1 + p3 and their sum. Maxima do not depend on order. The angles come from ANGLES, as there.
//
// Shared memory (dynamic, 1536 + H x 128 x (QKV16 ? 2 : 4) bytes): [0, 512) the 64 angles' (sin, cos) in f32, written
// by warp 0 (lane l: elements 2l, 2l + 1, exactly rope_body.h's values); [512, 1024) q_norm; [1024, 1536) k_norm; then
// the token's qkv row, copied in 16-byte cp.async pieces by all threads at once.
#if QKV16
#define QKV_ESZ 2
#else
#define QKV_ESZ 4
#endif
.visible .entry ROPE_ENTRY(ROPE_PARAMS)
.reqntid ROPE_TOK_THREADS, 1, 1
{
    PDL_START
    .reg .pred %p<6>, %pb, %pq;
    .reg .b32 %r_T, %r_t, %r_nhead, %r_nkv, %r_H, %r_maxpages, %r_lane, %r_j, %r_tid, %r_slot, %r_pos, %r_page;
    .reg .b32 %r_head, %r_kh, %r_bit, %r_n, %r_i, %r_s, %r_srow, %r_wb, %r<10>;
    .reg .b32 %u<8>;
    .reg .b64 %rd_src, %rd_row, %rd_dst, %rd_qout, %rd_kc, %rd_vc, %rd_qn, %rd_kn, %rd_slot, %rd_pos, %rd_bt, %rd<8>;
    .reg .f32 %a<8>, %b<8>, %w<8>, %v<8>, %oa<8>, %ob<8>, %sn<8>, %cs<8>, %pp<4>;
    .reg .f32 %ss, %t, %rstd, %eps, %s0, %c0, %s1, %c1, %fred;
    .reg .f64 %dr, %dp, %db, %dpos, %dth, %dk, %dred;
#if KV_FP8
    .reg .pred %pz;
    .reg .b16 %e<8>;
    .reg .b64 %rd_ks, %rd_vs, %rd_sc;
    .reg .f32 %amax, %scale, %inv;
#endif

    ld.param.u32 %r_T, [p_T];
    ld.param.u32 %r_nhead, [p_n_head];
    ld.param.u32 %r_nkv, [p_n_kv];
    mov.u32 %r_t, %ctaid.x;
    setp.ge.u32 %p1, %r_t, %r_T;
    @%p1 bra DONE;
    mov.u32 %r_tid, %tid.x;
    and.b32 %r_lane, %r_tid, 31;
    and.b32 %r_j, %r_lane, 7;
    shl.b32 %r_H, %r_nkv, 1;
    add.u32 %r_H, %r_H, %r_nhead;
    ROPE_LOAD_PARAMS
#if KV_FP8
    ld.param.u64 %rd_ks, [p_k_scale];
    ld.param.u64 %rd_vs, [p_v_scale];
    cvta.to.global.u64 %rd_ks, %rd_ks;
    cvta.to.global.u64 %rd_vs, %rd_vs;
#endif

    // --- shared memory: the norms' weights (threads 0..63, 16 bytes each) and the token's qkv row (16-byte pieces
    // i = tid, tid + 128, ...), all in flight at once ---
    mov.u32 %r_s, s_rope;
    add.u32 %r_srow, %r_s, 1536;
    setp.lt.u32 %p1, %r_tid, 64;
    @!%p1 bra WEIGHTS_ISSUED;
    and.b32 %r1, %r_tid, 31;
    mul.wide.u32 %rd1, %r1, 16;
    setp.lt.u32 %p2, %r_tid, 32;
    selp.b64 %rd2, %rd_qn, %rd_kn, %p2;
    add.u64 %rd2, %rd2, %rd1;
    shl.b32 %r2, %r_tid, 4;
    add.u32 %r2, %r2, 512;
    add.u32 %r2, %r2, %r_s;                     // q_norm at 512, k_norm at 1024
    cp.async.cg.shared.global [%r2], [%rd2], 16;
WEIGHTS_ISSUED:
    mul.lo.u32 %r_n, %r_H, HEAD_DIM * QKV_ESZ / 16;
    mul.lo.u32 %r1, %r_t, %r_H;
    mul.wide.u32 %rd1, %r1, HEAD_DIM * QKV_ESZ;
    add.u64 %rd_row, %rd_src, %rd1;
    mov.u32 %r_i, %r_tid;
ROW_COPY:
    setp.ge.u32 %p1, %r_i, %r_n;
    @%p1 bra ROW_ISSUED;
    mul.wide.u32 %rd1, %r_i, 16;
    add.u64 %rd1, %rd_row, %rd1;
    shl.b32 %r1, %r_i, 4;
    add.u32 %r1, %r_srow, %r1;
    cp.async.cg.shared.global [%r1], [%rd1], 16;
    add.u32 %r_i, %r_i, ROPE_TOK_THREADS;
    bra ROW_COPY;
ROW_ISSUED:
    cp.async.commit_group;

    // --- under the copy: slot, position and the page (every k / v head of the token shares it); warp 0 computes the
    // 64 angles (lane l: elements 2l, 2l + 1) into the table ---
    mul.wide.u32 %rd3, %r_t, 4;
    add.u64 %rd4, %rd_slot, %rd3;
    ld.global.nc.u32 %r_slot, [%rd4];
    add.u64 %rd4, %rd_pos, %rd3;
    ld.global.nc.u32 %r_pos, [%rd4];
    shr.u32 %r1, %r_pos, PAGE_SHIFT;
    mad.lo.u32 %r1, %r_slot, %r_maxpages, %r1;  // block_table[slot][pos / 64]
    mul.wide.u32 %rd5, %r1, 4;
    add.u64 %rd5, %rd_bt, %rd5;
    ld.global.nc.u32 %r_page, [%rd5];
    setp.ge.u32 %p1, %r_tid, 32;
    @%p1 bra ANGLES_DONE;
    ANGLES
    shl.b32 %r1, %r_lane, 4;
    add.u32 %r1, %r1, %r_s;
    st.shared.v4.f32 [%r1], {%s0, %c0, %s1, %c1};
ANGLES_DONE:
    cp.async.wait_group 0;
    bar.sync 0;
    // this lane's angles: elements 8j + m, m = 0..7 (8 bytes each at 64 j + 8 m)
    shl.b32 %r1, %r_j, 6;
    add.u32 %r1, %r1, %r_s;
    ld.shared.v4.f32 {%sn0, %cs0, %sn1, %cs1}, [%r1];
    ld.shared.v4.f32 {%sn2, %cs2, %sn3, %cs3}, [%r1+16];
    ld.shared.v4.f32 {%sn4, %cs4, %sn5, %cs5}, [%r1+32];
    ld.shared.v4.f32 {%sn6, %cs6, %sn7, %cs7}, [%r1+48];
    shr.u32 %r1, %r_tid, 3;                     // 4 w + g
    mov.u32 %r_head, %r1;

HEAD_LOOP:
    setp.ge.u32 %p1, %r_head, %r_H;             // warp-uniform (H % 4 == 0)
    @%p1 bra DONE;
    // --- the lane's 16 values of the head from the staged row: lo (a) and hi (b) ---
#if QKV16
    shl.b32 %r1, %r_head, 8;
    shl.b32 %r2, %r_j, 4;
    add.u32 %r1, %r1, %r2;
    add.u32 %r1, %r1, %r_srow;
    ld.shared.v4.b32 {%u0, %u1, %u2, %u3}, [%r1];
    ld.shared.v4.b32 {%u4, %u5, %u6, %u7}, [%r1+HEAD_DIM];
    UNPK(%u0, %a0, %a1) UNPK(%u1, %a2, %a3) UNPK(%u2, %a4, %a5) UNPK(%u3, %a6, %a7)
    UNPK(%u4, %b0, %b1) UNPK(%u5, %b2, %b3) UNPK(%u6, %b4, %b5) UNPK(%u7, %b6, %b7)
#else
    shl.b32 %r1, %r_head, 9;
    shl.b32 %r2, %r_j, 5;
    add.u32 %r1, %r1, %r2;
    add.u32 %r1, %r1, %r_srow;
    ld.shared.v4.f32 {%a0, %a1, %a2, %a3}, [%r1];
    ld.shared.v4.f32 {%a4, %a5, %a6, %a7}, [%r1+16];
    ld.shared.v4.f32 {%b0, %b1, %b2, %b3}, [%r1+HEAD_DIM*2];
    ld.shared.v4.f32 {%b4, %b5, %b6, %b7}, [%r1+HEAD_DIM*2+16];
#endif

    // --- route: q head -> q_out row; k / v head -> pool row [page][kh][pos % 64] ---
    setp.lt.u32 %pq, %r_head, %r_nhead;
    @%pq bra QHEAD;
    sub.u32 %r_kh, %r_head, %r_nhead;
    setp.ge.u32 %p3, %r_kh, %r_nkv;             // v head?
    @%p3 sub.u32 %r_kh, %r_kh, %r_nkv;
    mad.lo.u32 %r5, %r_page, %r_nkv, %r_kh;
    mul.wide.u32 %rd5, %r5, 64;
    and.b32 %r6, %r_pos, 63;
    cvt.u64.u32 %rd6, %r6;
    add.u64 %rd5, %rd5, %rd6;
#if KV_FP8
    selp.b64 %rd_sc, %rd_vs, %rd_ks, %p3;
    shl.b64 %rd6, %rd5, 2;
    add.u64 %rd_sc, %rd_sc, %rd6;               // &scale[page][kh][pos % 64]
    shl.b64 %rd5, %rd5, 7;
#else
    shl.b64 %rd5, %rd5, 8;
#endif
    selp.b64 %rd_dst, %rd_vc, %rd_kc, %p3;
    add.u64 %rd_dst, %rd_dst, %rd5;
    add.u32 %r_wb, %r_s, 1024;                  // k_norm
    @!%p3 bra NORM;
#if KV_FP8
    // --- v head: quantise the values as they are ---
    REP8(MOV_O)
    bra STORE_FP8;
#else
    // --- v head: copy as bf16 ---
    PACK_X
    bra STORE_BF16;
#endif

QHEAD:
    mad.lo.u32 %r5, %r_t, %r_nhead, %r_head;
    mul.wide.u32 %rd5, %r5, HEAD_DIM*2;
    add.u64 %rd_dst, %rd_qout, %rd5;
    add.u32 %r_wb, %r_s, 512;                   // q_norm

NORM:
    // --- RMSNorm over the head in rope_body.h's order (above), times the norm weight ---
    SUMSQ(0, 0, 1) SUMSQ(1, 2, 3) SUMSQ(2, 4, 5) SUMSQ(3, 6, 7)
    GROUP_STEP(4) GROUP_STEP(2) GROUP_STEP(1)
    add.f32 %pp0, %pp0, %pp2;
    add.f32 %pp1, %pp1, %pp3;
    add.f32 %ss, %pp0, %pp1;
    mul.rn.f32 %t, %ss, 0f3C000000;             // / 128 (exact)
    add.rn.f32 %t, %t, %eps;
    sqrt.rn.f32 %t, %t;
    rcp.rn.f32 %rstd, %t;
    shl.b32 %r1, %r_j, 5;
    add.u32 %r1, %r1, %r_wb;
    ld.shared.v4.f32 {%w0, %w1, %w2, %w3}, [%r1];
    ld.shared.v4.f32 {%w4, %w5, %w6, %w7}, [%r1+16];
    ld.shared.v4.f32 {%v0, %v1, %v2, %v3}, [%r1+HEAD_DIM*2];
    ld.shared.v4.f32 {%v4, %v5, %v6, %v7}, [%r1+HEAD_DIM*2+16];
    REP8(NORM_ROT)
#if KV_FP8
    @!%pq bra STORE_FP8;                        // a k head: to the fp8 pool
#endif
    PACK_O
STORE_BF16:
    // --- bf16 out: elements 8j .. 8j + 7 at 16 j, their partners 128 bytes on ---
    shl.b32 %r1, %r_j, 4;
    cvt.u64.u32 %rd1, %r1;
    add.u64 %rd_dst, %rd_dst, %rd1;
    st.global.v4.b32 [%rd_dst], {%u0, %u1, %u2, %u3};
    st.global.v4.b32 [%rd_dst+HEAD_DIM], {%u4, %u5, %u6, %u7};
#if KV_FP8
    bra HEAD_NEXT;

STORE_FP8:
    // --- k or v head (oa, ob) to the fp8 pool, rope_body.h's arithmetic: rounded to bf16 first, scale = amax / 448
    // over the 128 values (all zero: 1), e4m3 = satfinite(x * (1 / scale)) to nearest ---
    REP8(ROUND_BF16)
    abs.f32 %amax, %oa0;
    REP8(AMAX)
    shfl.sync.bfly.b32 %t, %amax, 4, 0x1f, 0xffffffff; max.f32 %amax, %amax, %t;
    shfl.sync.bfly.b32 %t, %amax, 2, 0x1f, 0xffffffff; max.f32 %amax, %amax, %t;
    shfl.sync.bfly.b32 %t, %amax, 1, 0x1f, 0xffffffff; max.f32 %amax, %amax, %t;
    setp.gt.f32 %pz, %amax, 0f00000000;
    div.rn.f32 %scale, %amax, 0f43E00000;       // / 448
    @!%pz mov.f32 %scale, 0f3F800000;
    rcp.rn.f32 %inv, %scale;
    REP8(SCALE_INV)
    CVT_E4M3
    mov.b32 %u0, {%e0, %e1};
    mov.b32 %u1, {%e2, %e3};
    shl.b32 %r1, %r_j, 3;
    cvt.u64.u32 %rd1, %r1;
    add.u64 %rd_dst, %rd_dst, %rd1;
    st.global.v2.b32 [%rd_dst], {%u0, %u1};     // elements 8j .. 8j + 7
    mov.b32 %u0, {%e4, %e5};
    mov.b32 %u1, {%e6, %e7};
    st.global.v2.b32 [%rd_dst+64], {%u0, %u1};  // 64 + 8j ..
    setp.eq.u32 %p4, %r_j, 0;
    @%p4 st.global.f32 [%rd_sc], %scale;
#endif
HEAD_NEXT:
    add.u32 %r_head, %r_head, ROPE_TOK_THREADS / 8;  // 4 heads a warp
    bra HEAD_LOOP;
DONE:
    ret;
}
#undef QKV_ESZ
