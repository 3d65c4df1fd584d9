// attention_body.h — the attention entry of ptx/attention.ptx, included once per KV-cache dtype with ATT_ENTRY (the
// entry's name), KV_FP8 (0: bf16 pools, 1: e4m3 pools + f32 row scales), TOK_OFF, STAGE0 and STAGE_BYTES (where the
// K/V loads land: the two bf16 tile buffers, or the two fp8 staging stages), MMA_OP and CVT_P (the mma and the P
// conversion: bf16, or f16 for fp8) and KS_LD / KS0 / KS1 (the scale of the scores: the softmax scale, or for fp8
// the softmax scale times each key's K row scale) defined. Only the tile load and, for fp8, the conversion of each
// staged tile into the f16 tile buffer and of Q to f16 differ; the mma and softmax code is shared.
.visible .entry ATT_ENTRY(
    .param .u64 p_out,
    .param .u64 p_q,
    .param .u64 p_k,
    .param .u64 p_v,
    .param .u64 p_ks,
    .param .u64 p_vs,
    .param .u64 p_bt,
    .param .u64 p_slot,
    .param .u64 p_pos,
    .param .u32 p_T,
    .param .u32 p_nh,
    .param .u32 p_nkv,
    .param .u32 p_maxpages,
    .param .u32 p_tb,
    .param .u32 p_split,
    .param .f32 p_scale)
    .reqntid 128, 1, 1
{
    PDL_START
    .reg .pred %p, %q, %pm, %uni, %ps;
    .reg .b32 %split, %units, %u, %S, %cz, %i, %r, %pa, %ml, %rpa, %rml;
    .reg .f32 %mr_lo, %mr_hi, %lr_lo, %lr_hi, %be_lo, %be_hi, %e0, %e1, %e2, %e3;
    .reg .b32 %t, %lane, %warp, %g, %tq, %l7, %x, %y, %z;
    .reg .b32 %T, %NH, %NKV, %CTX, %TB, %G, %t0, %kvh, %TBv, %nrows, %blk, %j;
    .reg .b32 %sbase, %sq, %stok, %sbuf, %sk, %sv, %kvso, %key0, %c16, %slot, %maxpos, %ntiles, %it, %kv0;
    .reg .b32 %row_lo, %row_hi, %tok_lo, %tok_hi, %rp_lo, %rp_hi, %wmax, %lim_lo, %lim_hi;
    .reg .b64 %pOut, %pQ, %pK, %pV, %pBT, %pSlot, %pPos, %kb, %vb, %d, %ptr;
    .reg .b32 %btrow;
    .reg .f32 %sl2, %m_lo, %m_hi, %l_lo, %l_hi, %mx_lo, %mx_hi, %mu_lo, %mu_hi, %al_lo, %al_hi, %f;
    .reg .b32 %kf0, %kf1, %kf2, %kf3;
    REP8(DECL_S)
    REP16(DECL_O)
    REP8(DECL_Q)
    REP4(DECL_P)
    REP8(DECL_J)
#if KV_FP8
    .reg .b64 %pKs, %pVs, %ksb, %vsb, %go8;
    .reg .b32 %c8, %key8, %so8, %bo8a, %bo8b, %sg8, %ssc, %sda, %sdb, %cw0, %cw1, %cw2, %cw3, %sc2, %ssk;
    .reg .b32 %cv0, %cv1, %cv2, %cv3, %cv4, %cv5, %cv6, %cv7;
    .reg .b16 %hb0, %hb1, %hsc;
    .reg .f32 %sc, %kq0, %kq1;
#endif

    // --- who am I ---
    mov.u32 %t, %tid.x;
    and.b32 %lane, %t, 31;
    shr.u32 %warp, %t, 5;
    shr.u32 %g, %lane, 2;                        // mma fragment row (and row + 8)
    and.b32 %tq, %lane, 3;                       // mma fragment column pair
    and.b32 %l7, %lane, 7;                       // XOR key of the rows this lane addresses in ldmatrix
    ld.param.u64 %pOut, [p_out];
    ld.param.u64 %pQ, [p_q];
    ld.param.u64 %pK, [p_k];
    ld.param.u64 %pV, [p_v];
    ld.param.u64 %pSlot, [p_slot];
    ld.param.u64 %pPos, [p_pos];
    ld.param.u32 %T, [p_T];
    ld.param.u32 %NH, [p_nh];
    ld.param.u32 %NKV, [p_nkv];
    ld.param.u32 %CTX, [p_maxpages];
    shl.b32 %CTX, %CTX, 6;                       // positions a slot's table row covers (64 per page)
    ld.param.u64 %pBT, [p_bt];
    ld.param.u32 %TB, [p_tb];
    ld.param.u32 %split, [p_split];
    ld.param.f32 %sl2, [p_scale];
    mul.f32 %sl2, %sl2, LOG2E;                   // softmax in base 2: exp(x) = ex2(x * log2 e)
    cvta.to.global.u64 %pOut, %pOut;
    cvta.to.global.u64 %pQ, %pQ;
    cvta.to.global.u64 %pK, %pK;
    cvta.to.global.u64 %pV, %pV;
#if KV_FP8
    ld.param.u64 %pKs, [p_ks];
    ld.param.u64 %pVs, [p_vs];
    cvta.to.global.u64 %pKs, %pKs;
    cvta.to.global.u64 %pVs, %pVs;
#endif
    cvta.to.global.u64 %pBT, %pBT;
    cvta.to.global.u64 %pSlot, %pSlot;
    cvta.to.global.u64 %pPos, %pPos;
    div.u32 %G, %NH, %NKV;
    mov.u32 %S, %nctaid.z;                       // CTAs splitting the keys of each unit (a cluster along z)
    mov.u32 %cz, %ctaid.z;
    mov.u32 %kvh, %ctaid.y;
    mov.u32 %sbase, attn_smem;
    mov.u32 %sq, %sbase;
    add.u32 %stok, %sbase, TOK_OFF;              // s_slot[64] then s_pos[64] (u32)

    // --- which tokens: the aligned block of TB tokens of this CTA (split = 0: block ctaid.x; split = 1: the block
    // holding token ctaid.x) ---
    mov.u32 %x, %ctaid.x;
    setp.ne.u32 %ps, %split, 0;
    @%ps div.u32 %blk, %x, %TB;
    @!%ps mov.u32 %blk, %x;
    mul.lo.u32 %t0, %blk, %TB;                   // block start
    sub.u32 %TBv, %T, %t0;
    min.u32 %TBv, %TBv, %TB;                     // tokens in the block
    setp.lt.u32 %p, %t, %TBv;
    add.u32 %y, %t0, %t;
    mul.wide.u32 %d, %y, 4;
    add.u64 %ptr, %pSlot, %d;
    mov.u32 %z, 0;
    @%p ld.global.u32 %z, [%ptr];                // slot of token t0 + t
    mul.wide.u32 %d, %t0, 4;
    add.u64 %ptr, %pSlot, %d;
    ld.global.u32 %slot, [%ptr];                 // slot of the block's first token
    setp.eq.u32 %q, %z, %slot;
    or.pred %q, %q, !%p;
    bar.red.and.pred %uni, 0, %q;                // the whole block is one sequence?
    @%uni bra BLOCK_UNIFORM;
    // mixed block: one token at a time; split: this CTA does token ctaid.x only, else all of the block's in turn
    mov.u32 %units, %TBv;
    mov.u32 %TBv, 1;
    @%ps mov.u32 %t0, %x;
    @%ps mov.u32 %units, 1;
    bra BLOCK_CHOSEN;
BLOCK_UNIFORM:
    mov.u32 %units, 1;
    @!%ps bra BLOCK_CHOSEN;
    setp.ne.u32 %q, %x, %t0;
    @%q bra DONE;                                // split: the block's first CTA does it all
BLOCK_CHOSEN:
    mov.u32 %u, 0;
UNIT:
    bar.sync 0;                                  // smem (token table, Q, K/V) is free from the previous unit
    mul.lo.u32 %nrows, %TBv, %G;                 // live rows: (token, head) pairs
    mul.wide.u32 %d, %t0, 4;
    add.u64 %ptr, %pSlot, %d;
    ld.global.u32 %slot, [%ptr];
    setp.lt.u32 %p, %t, %TBv;
    @!%p bra TOKENS_LOADED;
    add.u64 %ptr, %pPos, %d;
    mul.wide.u32 %d, %t, 4;
    add.u64 %ptr, %ptr, %d;
    ld.global.u32 %y, [%ptr];
    sub.u32 %z, %CTX, 1;
    min.u32 %y, %y, %z;                          // never read past the cache row
    shl.b32 %z, %t, 2;
    add.u32 %z, %z, %stok;
    st.shared.u32 [%z + ATT_ROWS * 4], %y;       // s_pos[t]
TOKENS_LOADED:

    // --- Q tile: row r = (token t0 + r/G, head kvh*G + r%G), 16 chunks of 16 B; dead rows zero-filled ---
    and.b32 %c16, %t, 15;
    shl.b32 %c16, %c16, 4;                       // this thread's 16-byte chunk (byte offset in a row)
    shr.u32 %key0, %t, 4;                        // first row / key this thread copies; then + 8, + 16, ...
    and.b32 %x, %key0, 7;
    shl.b32 %x, %x, 4;
    xor.b32 %kvso, %c16, %x;
    mad.lo.u32 %kvso, %key0, ROW_BYTES, %kvso;   // swizzled smem offset of (key0, chunk); + j*8 rows keeps it
#define LOAD_Q(j) \
    add.u32 %y, %key0, j * 8; setp.lt.u32 %p, %y, %nrows; selp.b32 %y, %y, 0, %p; selp.b32 %z, 16, 0, %p; \
    div.u32 %x, %y, %G; rem.u32 %y, %y, %G; add.u32 %x, %x, %t0; mad.lo.u32 %y, %kvh, %G, %y; \
    mad.lo.u32 %y, %x, %NH, %y; mul.wide.u32 %d, %y, ROW_BYTES; add.u64 %ptr, %pQ, %d; \
    cvt.u64.u32 %d, %c16; add.u64 %ptr, %ptr, %d; add.u32 %x, %sq, %kvso; \
    cp.async.cg.shared.global [%x + j * 8 * ROW_BYTES], [%ptr], 16, %z;
    REP8(LOAD_Q)
    cp.async.commit_group;
    cp.async.wait_group 0;
    bar.sync 0;
    // A fragments of Q for this warp's 16 rows, 8 k16 steps over head_dim (same matrix order as the GEMM)
    and.b32 %x, %lane, 15;
    mad.lo.u32 %x, %warp, 16, %x;
    mad.lo.u32 %y, %x, ROW_BYTES, %sq;
    shr.u32 %z, %lane, 4;
#define LDQ(kd) add.u32 %x, %z, kd * 2; xor.b32 %x, %x, %l7; shl.b32 %x, %x, 4; add.u32 %x, %x, %y; \
    ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%q_##kd##_0, %q_##kd##_1, %q_##kd##_2, %q_##kd##_3}, [%x];
    REP8(LDQ)
#if KV_FP8
    // fp8: the mma runs on f16 (the tiles are f16, see below); Q bf16 -> f16 is exact for |q| in [2^-14, 65504]
    // (f16 has 3 more mantissa bits; q-normed Q is far inside that range; smaller values lose < 2^-25 absolute)
#define Q_F16(kd, i) shl.b32 %x, %q_##kd##_##i, 16; and.b32 %y, %q_##kd##_##i, 0xFFFF0000; \
    cvt.rn.f16x2.f32 %q_##kd##_##i, %y, %x;
#define Q_F16_KD(kd) Q_F16(kd, 0) Q_F16(kd, 1) Q_F16(kd, 2) Q_F16(kd, 3)
    REP8(Q_F16_KD)
#endif

    // ldmatrix offsets inside a K/V tile. K (non-trans, B operand like the GEMM's W): key (l&7) + 8(l>>4), chunk
    // 2kd + ((l>>3)&1); V (trans: keys are the k dimension): key (l&7) + 8((l>>3)&1), chunk 2dp + (l>>4).
    shr.u32 %x, %lane, 4;
    shl.b32 %x, %x, 3;
    add.u32 %x, %x, %l7;
    shl.b32 %x, %x, 8;                           // K row byte offset
    shr.u32 %y, %lane, 3;
    and.b32 %y, %y, 1;                           // K chunk low bit
#define KC(kd) add.u32 %z, %y, kd * 2; xor.b32 %z, %z, %l7; shl.b32 %z, %z, 4; add.u32 %kc_##kd, %x, %z;
    REP8(KC)
    shl.b32 %x, %y, 3;
    add.u32 %x, %x, %l7;
    shl.b32 %x, %x, 8;                           // V row byte offset
    shr.u32 %y, %lane, 4;                        // V chunk low bit
#define VC(dp) add.u32 %z, %y, dp * 2; xor.b32 %z, %z, %l7; shl.b32 %z, %z, 4; add.u32 %vc_##dp, %x, %z;
    REP8(VC)

    // --- this thread's two rows: position limit (-1 = dead row), and the warp's last needed key ---
    mad.lo.u32 %row_lo, %warp, 16, %g;
    add.u32 %row_hi, %row_lo, 8;
    div.u32 %tok_lo, %row_lo, %G;
    div.u32 %tok_hi, %row_hi, %G;
    mov.u32 %rp_lo, -1;
    mov.u32 %rp_hi, -1;
    setp.lt.u32 %p, %row_lo, %nrows;
    shl.b32 %x, %tok_lo, 2;
    add.u32 %x, %x, %stok;
    @%p ld.shared.u32 %rp_lo, [%x + ATT_ROWS * 4];
    setp.lt.u32 %p, %row_hi, %nrows;
    shl.b32 %x, %tok_hi, 2;
    add.u32 %x, %x, %stok;
    @%p ld.shared.u32 %rp_hi, [%x + ATT_ROWS * 4];
    max.s32 %wmax, %rp_lo, %rp_hi;
    shfl.sync.bfly.b32 %x, %wmax, 1, 31, -1;
    max.s32 %wmax, %wmax, %x;
    shfl.sync.bfly.b32 %x, %wmax, 2, 31, -1;
    max.s32 %wmax, %wmax, %x;
    shfl.sync.bfly.b32 %x, %wmax, 4, 31, -1;
    max.s32 %wmax, %wmax, %x;
    shfl.sync.bfly.b32 %x, %wmax, 8, 31, -1;
    max.s32 %wmax, %wmax, %x;
    shfl.sync.bfly.b32 %x, %wmax, 16, 31, -1;
    max.s32 %wmax, %wmax, %x;
    // the block's last needed key (every thread scans the <= 64 positions in smem)
    mov.u32 %maxpos, 0;
    mov.u32 %j, 0;
MAXPOS:
    shl.b32 %x, %j, 2;
    add.u32 %x, %x, %stok;
    ld.shared.u32 %y, [%x + ATT_ROWS * 4];
    max.u32 %maxpos, %maxpos, %y;
    add.u32 %j, %j, 1;
    setp.lt.u32 %p, %j, %TBv;
    @%p bra MAXPOS;
    shr.u32 %ntiles, %maxpos, 6;
    add.u32 %ntiles, %ntiles, 1;

    // --- this slot's block-table row (pages of 64 keys); K/V copy mapping: thread copies chunk c16 of keys
    // key0 + 8j of each tile ---
    shr.u32 %btrow, %CTX, 6;
    mul.lo.u32 %btrow, %btrow, %slot;            // slot * max_pages

#define ZERO_O(dt) mov.f32 O(dt, 0), 0f00000000; mov.f32 O(dt, 1), 0f00000000; mov.f32 O(dt, 2), 0f00000000; \
    mov.f32 O(dt, 3), 0f00000000;
    REP16(ZERO_O)
    mov.f32 %m_lo, NEG_INF;
    mov.f32 %m_hi, NEG_INF;
    mov.f32 %l_lo, 0f00000000;
    mov.f32 %l_hi, 0f00000000;

    // K/V tile kv0 .. kv0+63 into the buffer at %sbuf: the tile is page block_table[slot][kv0 / 64], whose K rows
    // for this kv head are 16 KB from k_pool + (page*n_kv + kvh)*16 KB (V likewise); keys past maxpos copy 0 bytes
    // (zeros: P.V stays finite)
#define KV_PAGE_BASE \
    shr.u32 %x, %kv0, 6; add.u32 %x, %x, %btrow; mul.wide.u32 %d, %x, 4; add.u64 %ptr, %pBT, %d; \
    ld.global.nc.u32 %x, [%ptr]; mad.lo.u32 %x, %x, %NKV, %kvh; mul.wide.u32 %d, %x, KT_BYTES; \
    add.u64 %kb, %pK, %d; add.u64 %vb, %pV, %d;
#define KV_ADDR(j) \
    add.u32 %y, %kv0, %key0; add.u32 %y, %y, j * 8; setp.le.u32 %p, %y, %maxpos; selp.b32 %ksz_##j, 16, 0, %p; \
    add.u32 %y, %key0, j * 8; mul.wide.u32 %ko_##j, %y, ROW_BYTES; cvt.u64.u32 %d, %c16; \
    add.u64 %ko_##j, %ko_##j, %d;
#define KV_COPY(j) \
    add.u64 %ptr, %kb, %ko_##j; cp.async.cg.shared.global [%x + j * 8 * ROW_BYTES], [%ptr], 16, %ksz_##j; \
    add.u64 %ptr, %vb, %ko_##j; cp.async.cg.shared.global [%x + KT_BYTES + j * 8 * ROW_BYTES], [%ptr], 16, %ksz_##j;
#define LOAD_KV_BF16 KV_PAGE_BASE REP8(KV_ADDR) add.u32 %x, %sbuf, %kvso; REP8(KV_COPY) cp.async.commit_group;
#if KV_FP8
    // fp8: the tile's e4m3 K and V (8 KB each) and their 64 + 64 row scales go to the staging stage at %sbuf:
    // K [64][128 B] (chunk c of key k at k*128 + (c ^ (k & 7))*16), V likewise at + KT8_BYTES, K scales f32 [64]
    // at + 2*KT8_BYTES, V scales after them. Thread t copies chunk c8 of keys key8 + 16j (j = 0..3) of K and V;
    // threads 0..31 copy the scales (16 B = 4 keys each). Keys past maxpos copy 0 bytes: data and scales are
    // zeros, so their bf16 values are 0 (the pool's unwritten rows may hold anything, NaN included).
    // Mapping: c8 = (t >> 3) & 7, key8 = (t & 7) + 8 (t >> 6): the 8 lanes of a quarter warp hold 8 consecutive
    // keys of one chunk, so staging reads and the swizzled bf16 writes of the conversion hit 8 different bank groups.
    and.b32 %y, %t, 7;
    shr.u32 %x, %t, 3;
    and.b32 %c8, %x, 7;
    shr.u32 %z, %t, 6;
    mad.lo.u32 %key8, %z, 8, %y;
    xor.b32 %x, %c8, %y;
    shl.b32 %x, %x, 4;
    mad.lo.u32 %so8, %key8, 128, %x;             // staging offset of (key8, c8)
    shl.b32 %x, %c8, 4;
    mad.lo.u32 %x, %key8, 128, %x;
    cvt.u64.u32 %go8, %x;                        // global offset inside the page's 8 KB
    shl.b32 %z, %c8, 1;
    xor.b32 %x, %z, %y;
    shl.b32 %x, %x, 4;
    mad.lo.u32 %bo8a, %key8, ROW_BYTES, %x;      // bf16 tile offset of (key8, chunk 2 c8), swizzled as above
    add.u32 %z, %z, 1;
    xor.b32 %x, %z, %y;
    shl.b32 %x, %x, 4;
    mad.lo.u32 %bo8b, %key8, ROW_BYTES, %x;      // ... and of chunk 2 c8 + 1
#endif
#define KV8_PAGE_BASE \
    shr.u32 %x, %kv0, 6; add.u32 %x, %x, %btrow; mul.wide.u32 %d, %x, 4; add.u64 %ptr, %pBT, %d; \
    ld.global.nc.u32 %x, [%ptr]; mad.lo.u32 %x, %x, %NKV, %kvh; mul.wide.u32 %d, %x, KT8_BYTES; \
    add.u64 %kb, %pK, %d; add.u64 %vb, %pV, %d; mul.wide.u32 %d, %x, SC_BYTES; add.u64 %ksb, %pKs, %d; \
    add.u64 %vsb, %pVs, %d;
#define KV8_COPY(j) \
    add.u32 %y, %kv0, %key8; add.u32 %y, %y, j * 16; setp.le.u32 %p, %y, %maxpos; selp.b32 %z, 16, 0, %p; \
    add.u64 %ptr, %kb, %go8; cp.async.cg.shared.global [%x + j * 2048], [%ptr + j * 2048], 16, %z; \
    add.u64 %ptr, %vb, %go8; cp.async.cg.shared.global [%x + KT8_BYTES + j * 2048], [%ptr + j * 2048], 16, %z;
// scales: thread t < 32 copies keys 4(t & 15) .. +3 of K (t < 16) or V, as many bytes as keys <= maxpos
#define KV8_SCALES \
    and.b32 %y, %t, 15; shl.b32 %y, %y, 2; sub.s32 %z, %maxpos, %kv0; sub.s32 %z, %z, %y; add.s32 %z, %z, 1; \
    max.s32 %z, %z, 0; min.s32 %z, %z, 4; shl.b32 %z, %z, 2; setp.lt.u32 %p, %t, 16; \
    selp.b64 %ptr, %ksb, %vsb, %p; mul.wide.u32 %d, %y, 4; add.u64 %ptr, %ptr, %d; setp.lt.u32 %p, %t, 32; \
    shl.b32 %y, %t, 4; add.u32 %y, %y, %sbuf; \
    @%p cp.async.cg.shared.global [%y + 2 * KT8_BYTES], [%ptr], 16, %z;
#define LOAD_KV_FP8 KV8_PAGE_BASE add.u32 %x, %sbuf, %so8; REP4(KV8_COPY) KV8_SCALES cp.async.commit_group;
#if KV_FP8
#define LOAD_KV LOAD_KV_FP8
#else
#define LOAD_KV LOAD_KV_BF16
#endif

    // tiles of this CTA: cz, cz + S, ... (S = CTAs of the cluster splitting the keys, 1 without a cluster);
    // local tile i goes to buffer i & 1
    setp.ge.u32 %p, %cz, %ntiles;
    @%p bra KV_DONE;                             // more CTAs than tiles: this one only joins the combine
    mov.u32 %it, %cz;
    mov.u32 %i, 0;
    add.u32 %sbuf, %sbase, STAGE0;
    shl.b32 %kv0, %it, 6;
    LOAD_KV
KV_LOOP:
    // prefetch the next tile into the other buffer (freed by the barrier that ended the previous iteration)
    add.u32 %j, %it, %S;
    setp.lt.u32 %p, %j, %ntiles;
    @!%p bra KV_WAIT_ALL;
    shl.b32 %kv0, %j, 6;
    add.u32 %x, %i, 1;
    and.b32 %x, %x, 1;
    mad.lo.u32 %sbuf, %x, STAGE_BYTES, %sbase;
    add.u32 %sbuf, %sbuf, STAGE0;
    LOAD_KV
    cp.async.wait_group 1;                       // this tile landed (this thread's part)
    bra KV_READY;
KV_WAIT_ALL:
    cp.async.wait_group 0;
KV_READY:
    bar.sync 0;                                  // ... and everyone's part
    shl.b32 %kv0, %it, 6;
#if KV_FP8
    // --- fp8: convert the staged tile into the one f16 K/V buffer (the bf16 path's layout and swizzle), ~1
    // instruction per value. K: e4m3x2 -> f16x2 only (exact); its row scale multiplies the scores in f32 instead
    // (KS_LD), so K keeps its full precision whatever the scale. V: e4m3x2 -> f16x2 times the row's f16 scale
    // (one rounding to f16, 3 bits finer than the bf16 path's), the scale biased by VS_BIAS = 64: the tile holds
    // 64 V, O accumulates 64 O, and the row sums l are multiplied by 64 after the loop to match. f16's range then
    // holds rows of amax 448 * 2^-14 / 64 = 4.2e-4 (the scale is normal) up to 65504 / 64 = 1023; under that the
    // scale is subnormal (values off by < 448 * 2^-24 / 2 / 64 = 2e-7 absolute: rows that barely move the output,
    // like an attention sink's near-zero V); over it the biased scale is clamped to 146 (448 * 146 = 65408) so the
    // values clip to +-1022 instead of overflowing (bf16 models' V stays far below: vLLM's fp8 cache runs them
    // unscaled, |V| <= 448) ---
    and.b32 %x, %i, 1;
    mad.lo.u32 %y, %x, STAGE_BYTES, %sbase;
    add.u32 %y, %y, STAGE0;                      // this tile's staging stage
    add.u32 %sg8, %y, %so8;
    shl.b32 %x, %key8, 2;
    add.u32 %ssc, %y, %x;
    add.u32 %ssc, %ssc, 2 * KT8_BYTES + SC_BYTES;  // &vscale[key8]
    shl.b32 %x, %tq, 3;
    add.u32 %ssk, %y, %x;
    add.u32 %ssk, %ssk, 2 * KT8_BYTES;           // &kscale[2tq]: the first key of this thread's S fragment
    add.u32 %sk, %sbase, Q_BYTES;
    add.u32 %sv, %sk, KT_BYTES;
    add.u32 %sda, %sk, %bo8a;
    add.u32 %sdb, %sk, %bo8b;
    // kscale[t] *= softmax scale (threads 0..63, in place; KS_LD reads it after the barrier below)
    setp.lt.u32 %p, %t, 64;
    shl.b32 %x, %t, 2;
    add.u32 %x, %x, %y;
    @%p ld.shared.f32 %sc, [%x + 2 * KT8_BYTES];
    @%p mul.f32 %sc, %sc, %sl2;
    @%p st.shared.f32 [%x + 2 * KT8_BYTES], %sc;
// 4 e4m3 (w, low byte first) -> 2 f16x2 words o0 (values 0, 1), o1 (values 2, 3)
#define CVT4(w, o0, o1) mov.b32 {%hb0, %hb1}, w; cvt.rn.f16x2.e4m3x2 o0, %hb0; cvt.rn.f16x2.e4m3x2 o1, %hb1;
#define CVT16 CVT4(%cw0, %cv0, %cv1) CVT4(%cw1, %cv2, %cv3) CVT4(%cw2, %cv4, %cv5) CVT4(%cw3, %cv6, %cv7)
// key key8 + 16j of K (kv = 0) or V (kv = 1): 16 e4m3 of chunk c8 -> f16 chunks 2 c8, 2 c8 + 1
#define CVT_LD(kv, j) ld.shared.v4.b32 {%cw0, %cw1, %cw2, %cw3}, [%sg8 + kv * KT8_BYTES + j * 2048];
#define CVT_ST(kv, j) st.shared.v4.b32 [%sda + kv * KT_BYTES + j * 4096], {%cv0, %cv1, %cv2, %cv3}; \
    st.shared.v4.b32 [%sdb + kv * KT_BYTES + j * 4096], {%cv4, %cv5, %cv6, %cv7};
#define SCL(o) mul.rn.f16x2 o, o, %sc2;
#define CVT_K(j) CVT_LD(0, j) CVT16 CVT_ST(0, j)
#define CVT_V(j) CVT_LD(1, j) ld.shared.f32 %sc, [%ssc + j * 64]; mul.f32 %sc, %sc, VS_BIAS; \
    min.f32 %sc, %sc, 0f43120000; cvt.rn.f16.f32 %hsc, %sc; \
    mov.b32 %sc2, {%hsc, %hsc}; CVT16 SCL(%cv0) SCL(%cv1) SCL(%cv2) SCL(%cv3) SCL(%cv4) SCL(%cv5) SCL(%cv6) \
    SCL(%cv7) CVT_ST(1, j)
    REP4(CVT_K)
    REP4(CVT_V)
    bar.sync 0;                                  // the f16 tile and the premultiplied K scales are complete
#else
    and.b32 %x, %i, 1;
    mad.lo.u32 %sk, %x, BUF_BYTES, %sbase;
    add.u32 %sk, %sk, Q_BYTES;
    add.u32 %sv, %sk, KT_BYTES;
#endif
    setp.gt.s32 %p, %kv0, %wmax;
    @%p bra KV_NEXT;                             // causal: no row of this warp sees this tile

    // --- S = Q . K^T: 16 rows x 64 keys per warp ---
#define ZERO_S(nt) mov.f32 S(nt, 0), 0f00000000; mov.f32 S(nt, 1), 0f00000000; mov.f32 S(nt, 2), 0f00000000; \
    mov.f32 S(nt, 3), 0f00000000;
    REP8(ZERO_S)
#define QK_MMA(nt, kd, b0, b1) MMA_OP \
    {S(nt, 0), S(nt, 1), S(nt, 2), S(nt, 3)}, {%q_##kd##_0, %q_##kd##_1, %q_##kd##_2, %q_##kd##_3}, {b0, b1}, \
    {S(nt, 0), S(nt, 1), S(nt, 2), S(nt, 3)};
#define QK_NP(kd, np, nt0, nt1) ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%kf0, %kf1, %kf2, %kf3}, \
    [%x + np * 16 * ROW_BYTES]; QK_MMA(nt0, kd, %kf0, %kf1) QK_MMA(nt1, kd, %kf2, %kf3)
#define QK_KD(kd) add.u32 %x, %sk, %kc_##kd; QK_NP(kd, 0, 0, 1) QK_NP(kd, 1, 2, 3) QK_NP(kd, 2, 4, 5) \
    QK_NP(kd, 3, 6, 7)
    REP8(QK_KD)

    // --- scale, causal mask, online softmax. Thread holds keys kv0 + 8nt + 2tq + {0,1} of rows lo (i = 0,1)
    // and hi (i = 2,3); key k is visible to a row iff k <= its position (rp = -1: never) ---
    shl.b32 %x, %tq, 1;
    add.u32 %x, %x, %kv0;
    sub.s32 %lim_lo, %rp_lo, %x;
    sub.s32 %lim_hi, %rp_hi, %x;
#define MASK1(nt, i, lim, off, ks) mul.f32 S(nt, i), S(nt, i), ks; setp.ge.s32 %pm, lim, nt * 8 + off; \
    selp.f32 S(nt, i), S(nt, i), NEG_INF, %pm;
#define MASK(nt) KS_LD(nt) MASK1(nt, 0, %lim_lo, 0, KS0) MASK1(nt, 1, %lim_lo, 1, KS1) \
    MASK1(nt, 2, %lim_hi, 0, KS0) MASK1(nt, 3, %lim_hi, 1, KS1) max.f32 %mx_lo, %mx_lo, S(nt, 0); max.f32 %mx_lo, %mx_lo, S(nt, 1); \
    max.f32 %mx_hi, %mx_hi, S(nt, 2); max.f32 %mx_hi, %mx_hi, S(nt, 3);
    mov.f32 %mx_lo, NEG_INF;
    mov.f32 %mx_hi, NEG_INF;
    REP8(MASK)
    // the four lanes of a row (same g) hold its 64 keys between them
    shfl.sync.bfly.b32 %f, %mx_lo, 1, 31, -1;
    max.f32 %mx_lo, %mx_lo, %f;
    shfl.sync.bfly.b32 %f, %mx_lo, 2, 31, -1;
    max.f32 %mx_lo, %mx_lo, %f;
    shfl.sync.bfly.b32 %f, %mx_hi, 1, 31, -1;
    max.f32 %mx_hi, %mx_hi, %f;
    shfl.sync.bfly.b32 %f, %mx_hi, 2, 31, -1;
    max.f32 %mx_hi, %mx_hi, %f;
    // new running max; while a row has seen no visible key it stays -inf and exponents use 0 instead, so that
    // ex2(-inf - 0) = 0 and never ex2(-inf - -inf) = NaN
    max.f32 %mx_lo, %mx_lo, %m_lo;
    max.f32 %mx_hi, %mx_hi, %m_hi;
    setp.eq.f32 %p, %mx_lo, NEG_INF;
    selp.f32 %mu_lo, 0f00000000, %mx_lo, %p;
    setp.eq.f32 %p, %mx_hi, NEG_INF;
    selp.f32 %mu_hi, 0f00000000, %mx_hi, %p;
    sub.f32 %al_lo, %m_lo, %mu_lo;
    ex2.approx.ftz.f32 %al_lo, %al_lo;           // rescale factor of the old sum and O
    sub.f32 %al_hi, %m_hi, %mu_hi;
    ex2.approx.ftz.f32 %al_hi, %al_hi;
    mov.f32 %m_lo, %mx_lo;
    mov.f32 %m_hi, %mx_hi;
    mul.f32 %l_lo, %l_lo, %al_lo;
    mul.f32 %l_hi, %l_hi, %al_hi;
#define EXP1(nt, i, mu, l) sub.f32 S(nt, i), S(nt, i), mu; ex2.approx.ftz.f32 S(nt, i), S(nt, i); \
    add.f32 l, l, S(nt, i);
#define EXP(nt) EXP1(nt, 0, %mu_lo, %l_lo) EXP1(nt, 1, %mu_lo, %l_lo) EXP1(nt, 2, %mu_hi, %l_hi) \
    EXP1(nt, 3, %mu_hi, %l_hi)
    REP8(EXP)                                    // l: this thread's partial row sums (summed over lanes at the end)
#define RESCALE(dt) mul.f32 O(dt, 0), O(dt, 0), %al_lo; mul.f32 O(dt, 1), O(dt, 1), %al_lo; \
    mul.f32 O(dt, 2), O(dt, 2), %al_hi; mul.f32 O(dt, 3), O(dt, 3), %al_hi;
    REP16(RESCALE)
    // P as bf16 (fp8: f16, finer in [0, 1]) A fragments: key step kk covers key tiles 2kk (a0..a3 = c0c1, c2c3)
    // and 2kk+1 (a4..a7)
#define PACK(kk, nt0, nt1) CVT_P %p_##kk##_0, S(nt0, 1), S(nt0, 0); \
    CVT_P %p_##kk##_1, S(nt0, 3), S(nt0, 2); CVT_P %p_##kk##_2, S(nt1, 1), S(nt1, 0); \
    CVT_P %p_##kk##_3, S(nt1, 3), S(nt1, 2);
    PACK(0, 0, 1)
    PACK(1, 2, 3)
    PACK(2, 4, 5)
    PACK(3, 6, 7)

    // --- O += P . V: 16 rows x 128 dims per warp; ldmatrix.trans gives V fragments for dim tiles 2dp, 2dp+1 ---
#define PV_MMA(kk, dt, b0, b1) MMA_OP \
    {O(dt, 0), O(dt, 1), O(dt, 2), O(dt, 3)}, {%p_##kk##_0, %p_##kk##_1, %p_##kk##_2, %p_##kk##_3}, {b0, b1}, \
    {O(dt, 0), O(dt, 1), O(dt, 2), O(dt, 3)};
#define PV_KK(dp, kk, dt0, dt1) ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%kf0, %kf1, %kf2, %kf3}, \
    [%x + kk * 16 * ROW_BYTES]; PV_MMA(kk, dt0, %kf0, %kf1) PV_MMA(kk, dt1, %kf2, %kf3)
#define PV_DP(dp, dt0, dt1) add.u32 %x, %sv, %vc_##dp; PV_KK(dp, 0, dt0, dt1) PV_KK(dp, 1, dt0, dt1) \
    PV_KK(dp, 2, dt0, dt1) PV_KK(dp, 3, dt0, dt1)
    PV_DP(0, 0, 1)
    PV_DP(1, 2, 3)
    PV_DP(2, 4, 5)
    PV_DP(3, 6, 7)
    PV_DP(4, 8, 9)
    PV_DP(5, 10, 11)
    PV_DP(6, 12, 13)
    PV_DP(7, 14, 15)

KV_NEXT:
    bar.sync 0;                                  // everyone is done with this buffer before it is refilled
                                                 // (fp8: the f16 buffer and this tile's staging stage)
    add.u32 %i, %i, 1;
    add.u32 %it, %it, %S;
    setp.lt.u32 %p, %it, %ntiles;
    @%p bra KV_LOOP;
KV_DONE:

    // --- full row sums: the four lanes of a row hold different keys ---
    shfl.sync.bfly.b32 %f, %l_lo, 1, 31, -1;
    add.f32 %l_lo, %l_lo, %f;
    shfl.sync.bfly.b32 %f, %l_lo, 2, 31, -1;
    add.f32 %l_lo, %l_lo, %f;
    shfl.sync.bfly.b32 %f, %l_hi, 1, 31, -1;
    add.f32 %l_hi, %l_hi, %f;
    shfl.sync.bfly.b32 %f, %l_hi, 2, 31, -1;
    add.f32 %l_hi, %l_hi, %f;
#if KV_FP8
    mul.f32 %l_lo, %l_lo, VS_BIAS;               // O holds VS_BIAS times the output (see the tile conversion)
    mul.f32 %l_hi, %l_hi, VS_BIAS;
#endif

    // --- split keys (cluster of S CTAs along z): every CTA parks its (m, l, O) in its smem (the K/V buffers,
    // free now), the cluster syncs, CTA 0 merges the others' through DSMEM, the cluster syncs again so that no
    // CTA leaves (or starts the next unit) while CTA 0 still reads its smem ---
    setp.eq.u32 %p, %S, 1;
    @%p bra COMBINED;
    // O partials [64 rows][128] f32 at PART_OFF, (m, l) [64 rows][2] f32 at ML_OFF; this thread: rows lo/hi,
    // columns 8dt + 2tq, +1
    shl.b32 %x, %row_lo, 9;                      // row * 128 * 4
    shl.b32 %y, %tq, 3;
    add.u32 %x, %x, %y;
    add.u32 %pa, %x, %sbase;
    add.u32 %pa, %pa, PART_OFF;                  // &part[row_lo][2tq]; row_hi is 8 rows = 4096 B further
    shl.b32 %x, %row_lo, 3;
    add.u32 %ml, %x, %sbase;
    add.u32 %ml, %ml, ML_OFF;                    // &ml[row_lo]; row_hi is 64 B further
#define PART_ST(dt) st.shared.v2.f32 [%pa + dt * 32], {O(dt, 0), O(dt, 1)}; \
    st.shared.v2.f32 [%pa + 4096 + dt * 32], {O(dt, 2), O(dt, 3)};
    REP16(PART_ST)
    st.shared.v2.f32 [%ml], {%m_lo, %l_lo};
    st.shared.v2.f32 [%ml + 64], {%m_hi, %l_hi};
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    setp.ne.u32 %p, %cz, 0;
    @%p bra MERGED;
    mov.u32 %r, 1;
MERGE:
    mapa.shared::cluster.u32 %rpa, %pa, %r;      // the same slots in CTA r's smem
    mapa.shared::cluster.u32 %rml, %ml, %r;
    ld.shared::cluster.v2.f32 {%mr_lo, %lr_lo}, [%rml];
    ld.shared::cluster.v2.f32 {%mr_hi, %lr_hi}, [%rml + 64];
    // merged max; scale factors of both sides (a row that saw no key anywhere keeps -inf and exponents use 0)
    max.f32 %mx_lo, %m_lo, %mr_lo;
    max.f32 %mx_hi, %m_hi, %mr_hi;
    setp.eq.f32 %q, %mx_lo, NEG_INF;
    selp.f32 %mu_lo, 0f00000000, %mx_lo, %q;
    setp.eq.f32 %q, %mx_hi, NEG_INF;
    selp.f32 %mu_hi, 0f00000000, %mx_hi, %q;
    sub.f32 %al_lo, %m_lo, %mu_lo;
    ex2.approx.ftz.f32 %al_lo, %al_lo;
    sub.f32 %al_hi, %m_hi, %mu_hi;
    ex2.approx.ftz.f32 %al_hi, %al_hi;
    sub.f32 %be_lo, %mr_lo, %mu_lo;
    ex2.approx.ftz.f32 %be_lo, %be_lo;
    sub.f32 %be_hi, %mr_hi, %mu_hi;
    ex2.approx.ftz.f32 %be_hi, %be_hi;
    mov.f32 %m_lo, %mx_lo;
    mov.f32 %m_hi, %mx_hi;
    mul.f32 %l_lo, %l_lo, %al_lo;
    fma.rn.f32 %l_lo, %lr_lo, %be_lo, %l_lo;
    mul.f32 %l_hi, %l_hi, %al_hi;
    fma.rn.f32 %l_hi, %lr_hi, %be_hi, %l_hi;
#define MERGE_O(dt) ld.shared::cluster.v2.f32 {%e0, %e1}, [%rpa + dt * 32]; \
    ld.shared::cluster.v2.f32 {%e2, %e3}, [%rpa + 4096 + dt * 32]; \
    mul.f32 O(dt, 0), O(dt, 0), %al_lo; fma.rn.f32 O(dt, 0), %e0, %be_lo, O(dt, 0); \
    mul.f32 O(dt, 1), O(dt, 1), %al_lo; fma.rn.f32 O(dt, 1), %e1, %be_lo, O(dt, 1); \
    mul.f32 O(dt, 2), O(dt, 2), %al_hi; fma.rn.f32 O(dt, 2), %e2, %be_hi, O(dt, 2); \
    mul.f32 O(dt, 3), O(dt, 3), %al_hi; fma.rn.f32 O(dt, 3), %e3, %be_hi, O(dt, 3);
    REP16(MERGE_O)
    add.u32 %r, %r, 1;
    setp.lt.u32 %q, %r, %S;
    @%q bra MERGE;
MERGED:
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    @%p bra UNIT_END;                            // only CTA 0 of the cluster stores
COMBINED:

    // --- epilogue: O / l, bf16, rows that are live ---
    rcp.rn.f32 %l_lo, %l_lo;
    rcp.rn.f32 %l_hi, %l_hi;
// half lo: row g, accumulators 0,1 scaled by 1/l_lo; half hi: row g+8, accumulators 2,3
#define STORE_ROW(row, tok, half) \
    setp.lt.u32 %p, row, %nrows; @!%p bra SKIP_##half; \
    rem.u32 %y, row, %G; mad.lo.u32 %y, %kvh, %G, %y; add.u32 %x, tok, %t0; mad.lo.u32 %y, %x, %NH, %y; \
    shl.b32 %y, %y, 7; shl.b32 %x, %tq, 1; add.u32 %y, %y, %x; mul.wide.u32 %d, %y, 2; add.u64 %ptr, %pOut, %d; \
    REP16(ST_##half) SKIP_##half:
#define ST_lo(dt) mul.f32 %f, O(dt, 1), %l_lo; mul.f32 O(dt, 0), O(dt, 0), %l_lo; \
    cvt.rn.bf16x2.f32 %x, %f, O(dt, 0); st.global.b32 [%ptr + dt * 16], %x;
#define ST_hi(dt) mul.f32 %f, O(dt, 3), %l_hi; mul.f32 O(dt, 2), O(dt, 2), %l_hi; \
    cvt.rn.bf16x2.f32 %x, %f, O(dt, 2); st.global.b32 [%ptr + dt * 16], %x;
    STORE_ROW(%row_lo, %tok_lo, lo)
    STORE_ROW(%row_hi, %tok_hi, hi)
UNIT_END:
    add.u32 %u, %u, 1;
    add.u32 %t0, %t0, 1;                         // next token (only mixed blocks have more than one unit)
    setp.lt.u32 %p, %u, %units;
    @%p bra UNIT;
DONE:
    ret;
}
