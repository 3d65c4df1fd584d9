// attn_dec_rope.h — the prologue of attn_dec's _rope entries (ptx/attn_dec_body.h with ATTN_ROPE): the work
// qknorm_rope_kv(_fp8) (ptx/rope.ptx) would have done for this CTA's token and kv head, with rope_math.h's
// arithmetic, so the bytes are the same. Warp w takes units w, w + 4, ... of G + 2:
//   unit u < G:  q head kvh G + u: RMSNorm x q_norm, RoPE, bf16 -> the staging's Q rows (STG_Q + 256 u)
//   unit G:      the k head: RMSNorm x k_norm, RoPE  } as the cache holds them (bf16 row, or e4m3 row + f32 scale)
//   unit G + 1:  the v head as it is                 } -> the staging (STG_K, STG_K + STG_ROW, scales at STG_SC)
//                                                        and, from CTA 0 of the cluster only, the pools' row
// then a CTA barrier, and the Q^T fragments come from the staging instead of q's global rows. The key loop takes
// the token's own K / V row from the staging too (its copies skip that row: OWN_ROW_OUT), so no CTA reads what
// another CTA of this launch writes. Included once in each KV_FP8 branch of the body (where the branch wants it);
// uses the body's %lane, %warp, %g, %tq, %kvh, %tok, %G, %NH, %NKV, %pos, %btrow, %cz and the pool pointers.
    {
    .reg .pred %pb, %pz, %pk, %pv, %pw, %pl0, %pc0;
    .reg .b32 %r_lane, %r_pos, %r_bit, %u, %hg, %H, %stg, %ds, %h0, %h1, %r6, %pg;
    .reg .b16 %b<4>;
    .reg .f32 %x<4>, %w<4>, %y<4>, %o<4>, %ss, %t, %rstd, %eps, %s0, %c0, %s1, %c1, %fred, %amax, %scale, %inv;
    .reg .f64 %dr, %dp, %db, %dpos, %dth, %dk, %dred;
    .reg .b64 %qkv, %qn, %kn, %src, %wp, %off, %row, %dst;
    ld.param.u64 %qkv, [p_qkv];
    ld.param.u64 %qn, [p_qn];
    ld.param.u64 %kn, [p_kn];
    cvta.to.global.u64 %qkv, %qkv;
    cvta.to.global.u64 %qn, %qn;
    cvta.to.global.u64 %kn, %kn;
    ld.param.f64 %dr, [p_r];
    ld.param.f32 %eps, [p_eps];
    mov.u32 %r_lane, %lane;
    mov.u32 %r_pos, %pos;
    mul.wide.u32 %off, %lane, 8;                 // the lane's two norm weights of each half
    shl.b32 %H, %NKV, 1;
    add.u32 %H, %H, %NH;                         // heads of a qkv row
    setp.eq.u32 %pl0, %lane, 0;
    setp.eq.u32 %pc0, %cz, 0;                    // the cluster's CTA 0 writes the pools
    // the token's row of the pools: (page, kv head, pos % 64), page = block_table[slot][pos / 64]
    shr.u32 %pg, %pos, 6;
    add.u32 %pg, %pg, %btrow;
    mul.wide.u32 %row, %pg, 4;
    add.u64 %row, %row, %pBT;
    ld.global.nc.u32 %pg, [%row];
    mad.lo.u32 %pg, %pg, %NKV, %kvh;             // page * n_kv + kvh (< 2^32)
    mul.wide.u32 %row, %pg, 64;
    and.b32 %r6, %pos, 63;
    cvt.u64.u32 %dst, %r6;
    add.u64 %row, %row, %dst;
    mov.u32 %stg, dec_smem + STG_OFF;
    mov.u32 %u, %warp;
ROPE_UNIT:
    add.u32 %r6, %G, 2;
    setp.ge.u32 %pw, %u, %r6;                    // (warp-uniform)
    @%pw bra.uni ROPE_DONE;
    setp.eq.u32 %pk, %u, %G;
    setp.gt.u32 %pv, %u, %G;
    mad.lo.u32 %hg, %kvh, %G, %u;                // q head kvh G + u of the qkv row
    @%pk add.u32 %hg, %NH, %kvh;                 // the k head
    @%pv add.u32 %hg, %NH, %NKV;
    @%pv add.u32 %hg, %hg, %kvh;                 // the v head
    mad.lo.u32 %r6, %tok, %H, %hg;
#if QKV16
    mul.wide.u32 %src, %r6, 256;
    add.u64 %src, %src, %qkv;
    mul.wide.u32 %dst, %lane, 4;
    add.u64 %src, %src, %dst;
    ld.global.nc.b32 %h0, [%src];                // bf16 pair: element 2l in the low half
    ld.global.nc.b32 %h1, [%src+128];
    UNPACK_BF16
#else
    mul.wide.u32 %src, %r6, 512;
    add.u64 %src, %src, %qkv;
    add.u64 %src, %src, %off;
    ld.global.nc.v2.f32 {%x0, %x1}, [%src];
    ld.global.nc.v2.f32 {%x2, %x3}, [%src+256];
#endif
    @%pv bra.uni ROPE_V;
    selp.b64 %wp, %kn, %qn, %pk;
    HEAD_NORM_ROT(%wp, %off)
    @%pk bra.uni ROPE_KV;
    // --- q head u: bf16 (rope.ptx's q_out bytes) into the staging's row u ---
    cvt.rn.bf16x2.f32 %h0, %o1, %o0;             // first source -> upper half = odd element
    cvt.rn.bf16x2.f32 %h1, %o3, %o2;
    shl.b32 %ds, %lane, 2;
    mad.lo.u32 %ds, %u, 256, %ds;
    add.u32 %ds, %ds, %stg;
    st.shared.b32 [%ds + STG_Q], %h0;
    st.shared.b32 [%ds + STG_Q + 128], %h1;
    bra.uni ROPE_NEXT;
ROPE_V:
    mov.f32 %o0, %x0;
    mov.f32 %o1, %x1;
    mov.f32 %o2, %x2;
    mov.f32 %o3, %x3;
ROPE_KV:
    // --- the k or v row as the cache holds it: into the staging and (CTA 0) the pool ---
    selp.u32 %ds, STG_ROW, 0, %pv;
    add.u32 %ds, %ds, %stg;
    selp.b64 %dst, %pV, %pK, %pv;
#if KV_FP8
    FP8_ROW
    shl.b32 %r6, %lane, 1;
    add.u32 %r6, %r6, %ds;
    st.shared.b16 [%r6 + STG_K], %b0;
    st.shared.b16 [%r6 + STG_K + 64], %b1;       // elements 64 + 2l, 65 + 2l
    selp.u32 %r6, 4, 0, %pv;
    add.u32 %r6, %r6, %stg;
    @%pl0 st.shared.f32 [%r6 + STG_SC], %scale;
    @!%pc0 bra.uni ROPE_NEXT;
    shl.b64 %src, %row, 7;                       // rows of 128 e4m3 bytes
    add.u64 %dst, %dst, %src;
    mul.wide.u32 %src, %lane, 2;
    add.u64 %dst, %dst, %src;
    st.global.b16 [%dst], %b0;
    st.global.b16 [%dst+64], %b1;
    selp.b64 %dst, %pVs, %pKs, %pv;
    shl.b64 %src, %row, 2;
    add.u64 %dst, %dst, %src;
    @%pl0 st.global.f32 [%dst], %scale;
#else
    cvt.rn.bf16x2.f32 %h0, %o1, %o0;
    cvt.rn.bf16x2.f32 %h1, %o3, %o2;
    shl.b32 %r6, %lane, 2;
    add.u32 %r6, %r6, %ds;
    st.shared.b32 [%r6 + STG_K], %h0;
    st.shared.b32 [%r6 + STG_K + 128], %h1;
    @!%pc0 bra.uni ROPE_NEXT;
    shl.b64 %src, %row, 8;                       // rows of 128 bf16
    add.u64 %dst, %dst, %src;
    mul.wide.u32 %src, %lane, 4;
    add.u64 %dst, %dst, %src;
    st.global.b32 [%dst], %h0;
    st.global.b32 [%dst+128], %h1;
#endif
ROPE_NEXT:
    add.u32 %u, %u, 4;
    bra.uni ROPE_UNIT;
ROPE_DONE:
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
