// attn_dec_rope.h — the prologue of attn_dec's _rope entries (ptx/attn_dec_body.h with ATTN_ROPE): the work
// qknorm_rope_kv(_fp8) (ptx/rope.ptx) would have done for this CTA's token and kv head, with rope_math.h's
// arithmetic, so the bytes are the same. Warp w takes units w, w + 4, w + 8 of G + 2 (G <= 8):
//   unit u < G:  q head kvh G + u: RMSNorm x q_norm, RoPE, bf16 -> the staging's Q rows (STG_Q + 256 u)
//   unit G:      the k head: RMSNorm x k_norm, RoPE  } as the cache holds them (bf16 row, or e4m3 row + f32 scale)
//   unit G + 1:  the v head as it is                 } -> the staging (STG_K, STG_K + STG_ROW, scales at STG_SC)
//                                                        and, from CTA 0 of the cluster only, the pools' row
// The warp first asks for all it reads (its units' qkv values, both norms' weights) and computes the token's angles
// (one position: the same for every unit) while those loads fly, so the prologue is one round trip, not one a unit
// (session 36: a unit at a time measured slower than the RoPE launch it replaces). The bf16 entry includes this after
// its first two chunks' loads are issued, the fp8 entry after its ring's first fill: those keys fly meanwhile. Then a
// CTA barrier, and the Q^T fragments come from the staging instead of q's global rows. The key loop takes
// the token's own K / V row from the staging too (its copies skip that row: OWN_ROW_OUT), so no CTA reads what
// another CTA of this launch writes. Included once in each KV_FP8 branch of the body (where the branch wants it);
// uses the body's %lane, %warp, %g, %tq, %kvh, %tok, %G, %NH, %NKV, %pos, %btrow, %cz and the pool pointers.
// RL_LD(X, K): unit u = warp + K, if it exists (%pu##X): its qkv values into %x##X##0..3 (bf16: the pairs %h##X##0, 1)
#if QKV16
#define RL_LOAD(X) \
    mul.wide.u32 %src, %r6, 256; add.u64 %src, %src, %qkv; mul.wide.u32 %dst, %lane, 4; add.u64 %src, %src, %dst; \
    @%pu##X ld.global.nc.b32 %h##X##0, [%src]; @%pu##X ld.global.nc.b32 %h##X##1, [%src+128];
#define RL_X(X) mov.b32 %h0, %h##X##0; mov.b32 %h1, %h##X##1; UNPACK_BF16
#else
#define RL_LOAD(X) \
    mul.wide.u32 %src, %r6, 512; add.u64 %src, %src, %qkv; add.u64 %src, %src, %off; \
    @%pu##X ld.global.nc.v2.f32 {%x##X##0, %x##X##1}, [%src]; @%pu##X ld.global.nc.v2.f32 {%x##X##2, %x##X##3}, [%src+256];
#define RL_X(X) mov.f32 %x0, %x##X##0; mov.f32 %x1, %x##X##1; mov.f32 %x2, %x##X##2; mov.f32 %x3, %x##X##3;
#endif
#define RL_LD(X, K) \
    add.u32 %u, %warp, K; add.u32 %r6, %G, 2; setp.lt.u32 %pu##X, %u, %r6; \
    setp.eq.u32 %pk, %u, %G; setp.gt.u32 %pv, %u, %G; \
    mad.lo.u32 %hg, %kvh, %G, %u;                /* q head kvh G + u of the qkv row */ \
    @%pk add.u32 %hg, %NH, %kvh;                 /* the k head */ \
    @%pv add.u32 %hg, %NH, %NKV; @%pv add.u32 %hg, %hg, %kvh;  /* the v head */ \
    mad.lo.u32 %r6, %tok, %H, %hg; \
    RL_LOAD(X)
// RL_DO(X, K): unit u = warp + K (if it exists): q -> its staging row; k / v -> the staging and (CTA 0) the pool
#if KV_FP8
#define RL_KV_OUT(X) \
    FP8_ROW \
    shl.b32 %r6, %lane, 1; add.u32 %r6, %r6, %ds; \
    st.shared.b16 [%r6 + STG_K], %b0; st.shared.b16 [%r6 + STG_K + 64], %b1;  /* elements 2l, 64 + 2l */ \
    selp.u32 %r6, 4, 0, %pv; add.u32 %r6, %r6, %stg; @%pl0 st.shared.f32 [%r6 + STG_SC], %scale; \
    @!%pc0 bra.uni RL_END_##X; \
    shl.b64 %src, %row, 7; add.u64 %dst, %dst, %src; mul.wide.u32 %src, %lane, 2; add.u64 %dst, %dst, %src; \
    st.global.b16 [%dst], %b0; st.global.b16 [%dst+64], %b1; \
    selp.b64 %dst, %pVs, %pKs, %pv; shl.b64 %src, %row, 2; add.u64 %dst, %dst, %src; \
    @%pl0 st.global.f32 [%dst], %scale;
#else
#define RL_KV_OUT(X) \
    cvt.rn.bf16x2.f32 %h0, %o1, %o0; cvt.rn.bf16x2.f32 %h1, %o3, %o2; \
    shl.b32 %r6, %lane, 2; add.u32 %r6, %r6, %ds; \
    st.shared.b32 [%r6 + STG_K], %h0; st.shared.b32 [%r6 + STG_K + 128], %h1; \
    @!%pc0 bra.uni RL_END_##X; \
    shl.b64 %src, %row, 8; add.u64 %dst, %dst, %src; mul.wide.u32 %src, %lane, 4; add.u64 %dst, %dst, %src; \
    st.global.b32 [%dst], %h0; st.global.b32 [%dst+128], %h1;
#endif
#define RL_SEL_W(i) selp.f32 %w##i, %wk##i, %wq##i, %pk;
#define RL_DO(X, K) \
    @!%pu##X bra.uni RL_END_##X; \
    add.u32 %u, %warp, K; setp.eq.u32 %pk, %u, %G; setp.gt.u32 %pv, %u, %G; \
    RL_X(X) \
    @%pv bra.uni RL_V_##X; \
    HEAD_RSTD \
    RL_SEL_W(0) RL_SEL_W(1) RL_SEL_W(2) RL_SEL_W(3) \
    HEAD_ROT() \
    @%pk bra.uni RL_KV_##X; \
    cvt.rn.bf16x2.f32 %h0, %o1, %o0; cvt.rn.bf16x2.f32 %h1, %o3, %o2;  /* q: rope.ptx's q_out bytes */ \
    shl.b32 %ds, %lane, 2; mad.lo.u32 %ds, %u, 256, %ds; add.u32 %ds, %ds, %stg; \
    st.shared.b32 [%ds + STG_Q], %h0; st.shared.b32 [%ds + STG_Q + 128], %h1; \
    bra.uni RL_END_##X; \
RL_V_##X: \
    mov.f32 %o0, %x0; mov.f32 %o1, %x1; mov.f32 %o2, %x2; mov.f32 %o3, %x3; \
RL_KV_##X: \
    selp.u32 %ds, STG_ROW, 0, %pv; add.u32 %ds, %ds, %stg; selp.b64 %dst, %pV, %pK, %pv; \
    RL_KV_OUT(X) \
RL_END_##X:

    {
    .reg .pred %pb, %pz, %pk, %pv, %pl0, %pc0, %pua, %pub, %puc;
    .reg .b32 %r_lane, %r_pos, %r_bit, %u, %hg, %H, %stg, %ds, %h0, %h1, %r6, %pg, %ha<2>, %hb<2>, %hc<2>;
    .reg .b16 %b<4>;
    .reg .f32 %x<4>, %w<4>, %y<4>, %o<4>, %ss, %t, %rstd, %eps, %s0, %c0, %s1, %c1, %fred, %amax, %scale, %inv;
    .reg .f32 %xa<4>, %xb<4>, %xc<4>;
    .reg .f64 %dr, %dp, %db, %dpos, %dth, %dk, %dred;
    .reg .b64 %qkv, %src, %off, %row, %dst;
    ld.param.u64 %qkv, [p_qkv];
    cvta.to.global.u64 %qkv, %qkv;
    mul.wide.u32 %off, %lane, 8;                 // the lane's f32 qkv values (8 bytes a lane each half)
    shl.b32 %H, %NKV, 1;
    add.u32 %H, %H, %NH;                         // heads of a qkv row
    // --- every load first: the units' qkv values and the token's page (the norms' weights %wq, %wk: before the
    // wait, in the body) ---
    RL_LD(a, 0)
    RL_LD(b, 4)
    RL_LD(c, 8)
    // the token's row of the pools: (page, kv head, pos % 64), page = block_table[slot][pos / 64]
    shr.u32 %pg, %pos, 6;
    add.u32 %pg, %pg, %btrow;
    mul.wide.u32 %row, %pg, 4;
    add.u64 %row, %row, %pBT;
    ld.global.nc.u32 %pg, [%row];
    // --- while they fly: the angles of the token's position (rope_math.h's ANGLES), the same for every unit ---
    ld.param.f64 %dr, [p_r];
    ld.param.f32 %eps, [p_eps];
    mov.u32 %r_lane, %lane;
    mov.u32 %r_pos, %pos;
    ANGLES
    setp.eq.u32 %pl0, %lane, 0;
    setp.eq.u32 %pc0, %cz, 0;                    // the cluster's CTA 0 writes the pools
    mov.u32 %stg, dec_smem + STG_OFF;
    mad.lo.u32 %pg, %pg, %NKV, %kvh;             // page * n_kv + kvh (< 2^32)
    mul.wide.u32 %row, %pg, 64;
    and.b32 %r6, %pos, 63;
    cvt.u64.u32 %dst, %r6;
    add.u64 %row, %row, %dst;
    // --- the units ---
    RL_DO(a, 0)
    RL_DO(b, 4)
    RL_DO(c, 8)
    bar.sync 0;                                  // the staging complete for every warp
    // --- Q^T fragments from the staging: head g of the group (zeros past G), this lane's 32 dims ---
    setp.lt.u32 %p0, %g, %G;
    shl.b32 %x, %g, 8;
    add.u32 %x, %x, %stg;
    shl.b32 %y, %tq, 5;
    add.u32 %x, %x, %y;                          // &Q[g][16 tq]
    @%p0 ld.shared.v4.b32 {%qr0, %qr1, %qr2, %qr3}, [%x + STG_Q];
    @%p0 ld.shared.v4.b32 {%qr4, %qr5, %qr6, %qr7}, [%x + STG_Q + 16];
    @%p0 ld.shared.v4.b32 {%qr8, %qr9, %qr10, %qr11}, [%x + STG_Q + 128];
    @%p0 ld.shared.v4.b32 {%qr12, %qr13, %qr14, %qr15}, [%x + STG_Q + 144];
    }
#undef RL_LOAD
#undef RL_X
#undef RL_LD
#undef RL_KV_OUT
#undef RL_SEL_W
#undef RL_DO
