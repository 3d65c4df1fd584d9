// gemm_bf16_body.h — one tile configuration of the mma.sync GEMM, included once per configuration by gemm_bf16.ptx
// (bf16) and gemm_fp8_dec.ptx (e4m3 with block scales, FP8 defined as 1). The includer defines (all literal
// numbers, checked below):
//   NAME               .entry name
//   BM, BN             CTA tile rows of A (tokens) and of W (output features); BK is always 64
//   STAGES             depth of the cp.async ring
//   WARPS_M, WARPS_N, WARPS_K   warp grid; the WARPS_K warps of one (m, n) position split each BK=64 slice
//                      between them (k16 step kk goes to warp kk % WARPS_K) and are summed through smem at the end
//   MT, NT             m16 tiles and n8 tiles per warp = BM/WARPS_M/16 and BN/WARPS_N/8
//   NTHREADS           32 * WARPS_M * WARPS_N * WARPS_K
//   MAXNREG            optional register cap (.maxnreg), e.g. to fit two CTAs per SM
//
// Computes, for the CTA at (blockIdx.x, blockIdx.y, blockIdx.z) = (n tile, m tile, k split):
//   C[m0:m0+BM][n0:n0+BN] (op)= A[m0:m0+BM][k-range] . W[n0:n0+BN][k-range]^T
// params: C, A, W (.u64), M, N, K, mode, k_tiles_per_split (.u32). mode: 0 store f32, 1 store bf16, 2 add into f32,
// 3 red.global.add into f32 (split-K: several CTAs add their partial sums), 4 SwiGLU into bf16 C [M][N/2] (W the
// gate/up pair interleaved in blocks of 8 rows, swiglu.h: n8 tile 2p is gate, 2p + 1 the matching up, in the same
// registers of the same thread; N % 16 == 0, no split-K). Rows >= M and W rows >= N are loaded
// as zeros (cp.async with src-size 0) and never stored. Needs K % 64 == 0 and N % 8 == 0 (the launcher checks).
//
// FP8 = 1: A and W are e4m3 (row pitch K bytes), a K slice is 128 values (still 128 bytes per row, so the copies,
// the swizzle and every ldmatrix address are the same bytes as for bf16), each k16 bf16 step becomes a k32 e4m3
// step (m16n8k32: its fragments hold the same bytes at the same lane positions as m16n8k16's), and two params
// follow W: sa (f32 [M][K/128]) and sw (f32 [ceil(N/128)][K/128]; BN divides 128, so a tile has one). Each mma
// covers 32 values of one 128-block, so it runs on a zero accumulator and is promoted at once: acc += d * sa[row]
// * sw (f32), which also keeps the FP8 tensor cores' short accumulation to 32 products.
//
// Shared memory (dynamic, gemm_smem): STAGES x [ A tile BM x 64 bf16 | W tile BN x 64 bf16 ]. Every row is 128 B =
// eight 16-byte chunks; logical chunk c of row r is stored at chunk c ^ (r & 7) (XOR swizzle), so the eight row
// addresses of one ldmatrix 8x8 matrix fall into eight different bank groups (no conflicts), and the cp.async
// writes of a warp spread the same way.

#if NTHREADS != 32 * WARPS_M * WARPS_N * WARPS_K
#error "NTHREADS must be 32 * WARPS_M * WARPS_N * WARPS_K"
#endif
#if MT * 16 * WARPS_M != BM || NT * 8 * WARPS_N != BN
#error "MT/NT do not match BM/BN and the warp grid"
#endif
#if NT % 2 != 0
#error "NT must be even (B fragments are loaded two n8 tiles per ldmatrix.x4)"
#endif
#if 4 % WARPS_K != 0
#error "WARPS_K must divide the four k16 steps of a 64-wide K slice"
#endif
#if NT_HALF * 2 != NT || KS_LOCAL_N * WARPS_K != 4 || CA_N * NTHREADS != BM * 8 || CW_N * NTHREADS != BN * 8
#error "NT_HALF, KS_LOCAL_N, CA_N, CW_N must be NT/2, 4/WARPS_K, BM*8/NTHREADS, BN*8/NTHREADS"
#endif
#if (WARPS_K - 1) * WARPS_M * WARPS_N * MT * NT * 4 * 128 > STAGES * (BM + BN) * 128
#error "the cross-warp reduction does not fit in the pipeline's shared memory"
#endif
#if (BM * 8) % NTHREADS != 0 || (BN * 8) % NTHREADS != 0 || NTHREADS % 8 != 0
#error "each thread must copy a whole number of 16-byte chunks of the A and W tiles"
#endif

#define A_BYTES (BM * 128)
#define STAGE_BYTES ((BM + BN) * 128)
#define KS_LOCAL (4 / WARPS_K)                   // k16 steps per warp per 64-wide K slice
#define RSTEP (NTHREADS / 8)                     // rows covered by one pass of the tile copy
#define CA (BM * 8 / NTHREADS)                   // 16-byte chunks of A each thread copies per tile
#define CW (BN * 8 / NTHREADS)                   // ... of W
#define NACC (MT * NT * 4)                       // f32 accumulators per thread

#define FOR_MT(X) CAT(REP, MT)(X)
#define FOR_NT(X) CAT(REP, NT)(X)
#define FOR_NT_A(X, a) CAT(REPA, NT)(X, a)
#define FOR_NP(X) CAT(REP, NT_HALF)(X)
#define FOR_KS(X) CAT(REPK, KS_LOCAL_N)(X)
#define FOR_CA(X) CAT(REP, CA_N)(X)
#define FOR_CW(X) CAT(REP, CW_N)(X)

.visible .entry NAME(
    .param .u64 p_C,
    .param .u64 p_A,
    .param .u64 p_W,
#if FP8
    .param .u64 p_sa,
    .param .u64 p_sw,
#endif
    .param .u32 p_M,
    .param .u32 p_N,
    .param .u32 p_K,
    .param .u32 p_mode,
    .param .u32 p_ktps)
    .reqntid NTHREADS, 1, 1
#ifdef MAXNREG
    .maxnreg MAXNREG
#endif
{
    PDL_START
    .reg .pred %p, %q, %pk, %plo, %phi, %pl, %pcl;
    .reg .b32 %crank;
    .reg .b32 %t, %lane, %warp, %wm, %wn, %wk, %wmn, %x, %y;
    .reg .b32 %M, %N, %K, %mode, %ktps, %m0, %n0, %kt0, %kt1, %nkt, %ldkt, %s;
    .reg .b32 %sbase, %cs, %ls, %sa, %sw, %soA, %soW, %aa, %ab, %lr, %lc, %row, %col;
    .reg .b64 %pA, %pW, %pC, %ptr, %koff, %d, %crow, %cp, %ldc16, %ldc8;
    .reg .b32 %ra, %rw, %K2, %sz;
    .reg .b64 %gA0, %gW0, %gA, %gW;
    .reg .b32 %oa, %ob;
#define DECL_ACC(mt, nt) .reg .f32 ACC(mt, nt, 0), ACC(mt, nt, 1), ACC(mt, nt, 2), ACC(mt, nt, 3);
#define DECL_ACC_MT(mt) FOR_NT_A(DECL_ACC, mt)
    FOR_MT(DECL_ACC_MT)
#define DECL_AF(mt) .reg .b32 %a_##mt##_0, %a_##mt##_1, %a_##mt##_2, %a_##mt##_3;
    FOR_MT(DECL_AF)
#define DECL_BF(nt) .reg .b32 %b_##nt##_0, %b_##nt##_1; .reg .pred %pc_##nt;
    FOR_NT(DECL_BF)
    .reg .f32 %e0, %e1, %e2, %e3;
    .reg .b32 %h;
#if FP8
    // per m16 tile: the scale rows' addresses (rows past M clamped to M - 1) and this slice's two row factors
#define DECL_SC(mt) .reg .b64 %slo_##mt, %shi_##mt; .reg .f32 %flo_##mt, %fhi_##mt;
    FOR_MT(DECL_SC)
    .reg .b64 %psa, %psw, %swrow, %sc;
    .reg .b32 %ckt, %kbs, %Mm1;
    .reg .f32 %swv, %z, %t0, %t1, %t2, %t3;
#endif

    // --- who am I ---
    mov.u32 %t, %tid.x;
    and.b32 %lane, %t, 31;
    shr.u32 %warp, %t, 5;
    div.u32 %wk, %warp, WARPS_M * WARPS_N;
    rem.u32 %wmn, %warp, WARPS_M * WARPS_N;
    div.u32 %wm, %wmn, WARPS_N;
    rem.u32 %wn, %wmn, WARPS_N;

    ld.param.u64 %pC, [p_C];
    ld.param.u64 %pA, [p_A];
    ld.param.u64 %pW, [p_W];
    ld.param.u32 %M, [p_M];
    ld.param.u32 %N, [p_N];
    ld.param.u32 %K, [p_K];
    ld.param.u32 %mode, [p_mode];
    ld.param.u32 %ktps, [p_ktps];
    cvta.to.global.u64 %pC, %pC;
    cvta.to.global.u64 %pA, %pA;
    cvta.to.global.u64 %pW, %pW;
#if FP8
#define KSH 7                                    // log2 of K values per slice
#define ROWB(r) mov.u32 r, %K                    // row pitch in bytes: 1 per value
#else
#define KSH 6
#define ROWB(r) shl.b32 r, %K, 1
#endif

    mov.u32 %x, %ctaid.x;
    mul.lo.u32 %n0, %x, BN;
    mov.u32 %x, %ctaid.y;
    mul.lo.u32 %m0, %x, BM;
    // k tiles [kt0, kt1) of this split; an empty split (never made by the launcher) simply leaves
    mov.u32 %x, %ctaid.z;
    mul.lo.u32 %kt0, %x, %ktps;
    shr.u32 %x, %K, KSH;
    add.u32 %kt1, %kt0, %ktps;
    min.u32 %kt1, %kt1, %x;
    mov.u32 %x, %cluster_nctarank;               // > 1: the K splits of a (1, 1, S) cluster meet in rank 0
    setp.gt.u32 %pcl, %x, 1;
    @!%pcl bra CL_STARTED;
    barrier.cluster.arrive.relaxed.aligned;      // phase 1: this CTA has started (waited for before any DSMEM store)
CL_STARTED:
    setp.ge.u32 %p, %kt0, %kt1;
    @%p bra DONE;
    sub.u32 %nkt, %kt1, %kt0;

    mov.u32 %sbase, gemm_smem;
    // ring positions (%ls: stage being filled, %cs: stage being computed) are byte offsets 0 .. STAGES*STAGE_BYTES;
    // the smem base is folded into the per-thread offsets below

    // --- copy mapping: thread t copies chunk lc of rows lr, lr + RSTEP, ... of both tiles ---
    and.b32 %lc, %t, 7;
    shr.u32 %lr, %t, 3;
    and.b32 %x, %lr, 7;
    xor.b32 %x, %x, %lc;
    shl.b32 %x, %x, 4;
    shl.b32 %y, %lr, 7;
    add.u32 %soA, %y, %x;                        // lr*128 + ((lc ^ (lr&7)) * 16); RSTEP is a multiple of 8
    add.u32 %soA, %soA, %sbase;
    add.u32 %soW, %soA, A_BYTES;
    // global chunk addresses: row (m0 + lr + j*RSTEP) of A, (n0 + lr + j*RSTEP) of W, chunk lc, computed per copy
    // (fewer live registers than one 64-bit pointer per row). Rows past the matrix copy 0 bytes (zero fill) from
    // row 0, so that the address stays inside the matrix.
    add.u32 %ra, %m0, %lr;
    add.u32 %rw, %n0, %lr;
    ROWB(%K2);                                   // row pitch in bytes
    mul.wide.u32 %d, %lc, 16;
    add.u64 %gA0, %pA, %d;
    add.u64 %gW0, %pW, %d;

    // --- ldmatrix mapping (per warp): lane l addresses row l&15 (A) / n row (l&7)+8(l>>4) (W), k chunk from l ---
    // A x4: matrices {rows 0-7, k 0-7}, {rows 8-15, k 0-7}, {rows 0-7, k 8-15}, {rows 8-15, k 8-15} = a0..a3.
    // W x4: {n 0-7, k 0-7}, {n 0-7, k 8-15}, {n 8-15, k 0-7}, {n 8-15, k 8-15} = b0,b1 of n-tile 2np, then 2np+1.
    // Only the offsets of the warp's first k16 step are kept: step ks of a slice is chunk 2(ks*WARPS_K) further,
    // and since the XOR swizzle acts on address bits 4-6 while tile bases, rows and m16 steps are multiples of
    // 128 B, that is the same as XOR-ing (ks*WARPS_K) << 5 into the address.
    shl.b32 %x, %wk, 1;                          // first k chunk of k16 step kk = wk
    shr.u32 %y, %lane, 4; add.u32 %y, %y, %x; and.b32 %s, %lane, 7; xor.b32 %y, %y, %s; shl.b32 %y, %y, 4;
    and.b32 %s, %lane, 15; mad.lo.u32 %s, %wm, MT * 16, %s; shl.b32 %s, %s, 7; add.u32 %oa, %s, %y;
    shr.u32 %y, %lane, 3; and.b32 %y, %y, 1; add.u32 %y, %y, %x; and.b32 %s, %lane, 7; xor.b32 %y, %y, %s;
    shl.b32 %y, %y, 4; shr.u32 %s, %lane, 4; shl.b32 %s, %s, 3; and.b32 %x, %lane, 7; add.u32 %s, %s, %x;
    mad.lo.u32 %s, %wn, NT * 8, %s; shl.b32 %s, %s, 7; add.u32 %s, %s, A_BYTES; add.u32 %ob, %s, %y;
    add.u32 %oa, %oa, %sbase;
    add.u32 %ob, %ob, %sbase;

#if FP8
    // scale addresses: sa row (m0 + 16 mt + lane/4 (+ 8)) clamped, sw row n0 / 128; + 4 bytes per slice
    ld.param.u64 %psa, [p_sa];
    ld.param.u64 %psw, [p_sw];
    shr.u32 %kbs, %K, 7;
    sub.u32 %Mm1, %M, 1;
#define SC_ADDR(mt) shr.u32 %x, %lane, 2; mad.lo.u32 %x, %wm, MT * 16, %x; add.u32 %x, %x, %m0; \
    add.u32 %x, %x, mt * 16; min.u32 %y, %x, %Mm1; mul.wide.u32 %slo_##mt, %y, %kbs; shl.b64 %slo_##mt, %slo_##mt, 2; \
    add.u64 %slo_##mt, %slo_##mt, %psa; add.u32 %x, %x, 8; min.u32 %y, %x, %Mm1; mul.wide.u32 %shi_##mt, %y, %kbs; \
    shl.b64 %shi_##mt, %shi_##mt, 2; add.u64 %shi_##mt, %shi_##mt, %psa;
    FOR_MT(SC_ADDR)
    shr.u32 %x, %n0, 7;
    mul.wide.u32 %swrow, %x, %kbs;
    shl.b64 %swrow, %swrow, 2;
    add.u64 %swrow, %swrow, %psw;
    mov.u32 %ckt, %kt0;
    mov.f32 %z, 0f00000000;
#endif
#define ZERO_ACC(mt, nt) mov.f32 ACC(mt, nt, 0), 0f00000000; mov.f32 ACC(mt, nt, 1), 0f00000000; \
    mov.f32 ACC(mt, nt, 2), 0f00000000; mov.f32 ACC(mt, nt, 3), 0f00000000;
#define ZERO_ACC_MT(mt) FOR_NT_A(ZERO_ACC, mt)
    FOR_MT(ZERO_ACC_MT)

    // --- cp.async producer: one 64-wide K slice (tile %ldkt) into the stage at %ls, one commit group each ---
#define COPY_A(j) add.u32 %row, %ra, j * RSTEP; setp.lt.u32 %p, %row, %M; selp.b32 %sz, 16, 0, %p; \
    selp.b32 %row, %row, 0, %p; mad.wide.u32 %ptr, %row, %K2, %gA; \
    cp.async.cg.shared.global [%sa + j * RSTEP * 128], [%ptr], 16, %sz;
#define COPY_W(j) add.u32 %row, %rw, j * RSTEP; setp.lt.u32 %p, %row, %N; selp.b32 %sz, 16, 0, %p; \
    selp.b32 %row, %row, 0, %p; mad.wide.u32 %ptr, %row, %K2, %gW; \
    cp.async.cg.shared.global [%sw + j * RSTEP * 128], [%ptr], 16, %sz;
#define LOAD_TILE \
    mul.wide.u32 %koff, %ldkt, 128; add.u64 %gA, %gA0, %koff; add.u64 %gW, %gW0, %koff; \
    add.u32 %sa, %ls, %soA; add.u32 %sw, %ls, %soW; FOR_CA(COPY_A) FOR_CW(COPY_W)

    // prologue: tiles kt0 .. kt0+STAGES-2 into stages 0 .. STAGES-2 (an empty group when the range is shorter,
    // so that the group count, and with it wait_group's meaning, stays fixed)
    mov.u32 %ls, 0;
    mov.u32 %ldkt, %kt0;
    mov.u32 %s, 0;
PROLOGUE:
    setp.lt.u32 %p, %ldkt, %kt1;
    @!%p bra PROLOGUE_COMMIT;
    LOAD_TILE
PROLOGUE_COMMIT:
    cp.async.commit_group;
    add.u32 %ldkt, %ldkt, 1;
    add.u32 %ls, %ls, STAGE_BYTES;
    add.u32 %s, %s, 1;
    setp.lt.u32 %p, %s, STAGES - 1;
    @%p bra PROLOGUE;

    // --- main loop: wait for tile it, refill the stage freed by tile it-1, compute tile it ---
    mov.u32 %cs, 0;
MAINLOOP:
    cp.async.wait_group STAGES - 2;              // this thread's copies of tile it have landed
    bar.sync 0;                                  // everyone's have; everyone is done with tile it-1's stage
    setp.lt.u32 %p, %ldkt, %kt1;
    @!%p bra MAIN_COMMIT;
    LOAD_TILE
MAIN_COMMIT:
    cp.async.commit_group;
    add.u32 %ldkt, %ldkt, 1;
    add.u32 %ls, %ls, STAGE_BYTES;
    setp.ge.u32 %p, %ls, STAGES * STAGE_BYTES;
    @%p mov.u32 %ls, 0;

    // --- tensor cores: per k16 step, MT A fragments, NT B fragments, MT*NT mma.sync ---
#define LDA(mt) ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%a_##mt##_0, %a_##mt##_1, %a_##mt##_2, %a_##mt##_3}, \
    [%aa + mt * 16 * 128];
#define LDB(np) ldmatrix.sync.aligned.m8n8.x4.shared.b16 {BPAIR_##np}, \
    [%ab + np * 16 * 128];
#if FP8
#define MMA(mt, nt) mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%t0, %t1, %t2, %t3}, \
    {%a_##mt##_0, %a_##mt##_1, %a_##mt##_2, %a_##mt##_3}, {%b_##nt##_0, %b_##nt##_1}, {%z, %z, %z, %z}; \
    fma.rn.f32 ACC(mt, nt, 0), %t0, %flo_##mt, ACC(mt, nt, 0); fma.rn.f32 ACC(mt, nt, 1), %t1, %flo_##mt, ACC(mt, nt, 1); \
    fma.rn.f32 ACC(mt, nt, 2), %t2, %fhi_##mt, ACC(mt, nt, 2); fma.rn.f32 ACC(mt, nt, 3), %t3, %fhi_##mt, ACC(mt, nt, 3);
// this slice's factors sa[row][ckt] * sw[n0 / 128][ckt]
#define SC_LOAD(mt) mul.wide.u32 %sc, %ckt, 4; add.u64 %d, %slo_##mt, %sc; ld.global.nc.f32 %flo_##mt, [%d]; \
    add.u64 %d, %shi_##mt, %sc; ld.global.nc.f32 %fhi_##mt, [%d]; mul.f32 %flo_##mt, %flo_##mt, %swv; \
    mul.f32 %fhi_##mt, %fhi_##mt, %swv;
#else
#define MMA(mt, nt) mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 \
    {ACC(mt, nt, 0), ACC(mt, nt, 1), ACC(mt, nt, 2), ACC(mt, nt, 3)}, \
    {%a_##mt##_0, %a_##mt##_1, %a_##mt##_2, %a_##mt##_3}, {%b_##nt##_0, %b_##nt##_1}, \
    {ACC(mt, nt, 0), ACC(mt, nt, 1), ACC(mt, nt, 2), ACC(mt, nt, 3)};
#endif
#define MMA_MT(mt) FOR_NT_A(MMA, mt)
#define KSTEP(ks) xor.b32 %aa, %sa, (ks * WARPS_K) << 5; xor.b32 %ab, %sw, (ks * WARPS_K) << 5; \
    FOR_MT(LDA) FOR_NP(LDB) FOR_MT(MMA_MT)
    add.u32 %sa, %cs, %oa;
    add.u32 %sw, %cs, %ob;
#if FP8
    mul.wide.u32 %sc, %ckt, 4;
    add.u64 %d, %swrow, %sc;
    ld.global.nc.f32 %swv, [%d];
    FOR_MT(SC_LOAD)
    add.u32 %ckt, %ckt, 1;
#endif
    FOR_KS(KSTEP)

    add.u32 %cs, %cs, STAGE_BYTES;
    setp.ge.u32 %p, %cs, STAGES * STAGE_BYTES;
    @%p mov.u32 %cs, 0;
    sub.u32 %nkt, %nkt, 1;                       // tiles left
    setp.ne.u32 %p, %nkt, 0;
    @%p bra MAINLOOP;

    cp.async.wait_group 0;                       // only empty groups can be pending; drain before reusing smem
    bar.sync 0;
    @!%pcl bra CL_WAITED;
    barrier.cluster.wait.aligned;                // phase 1 done: every CTA of the cluster has started
CL_WAITED:

// store (OP: st.shared.f32, or st.shared::cluster.f32 into another CTA) this thread's accumulators at %sa, or add
// the partial sums there into them; layout [accumulator i][lane] f32: consecutive lanes hit consecutive banks
#define ACC_ST(OP, mt, nt) \
    OP [%sa + ((mt * NT + nt) * 4 + 0) * 128], ACC(mt, nt, 0); \
    OP [%sa + ((mt * NT + nt) * 4 + 1) * 128], ACC(mt, nt, 1); \
    OP [%sa + ((mt * NT + nt) * 4 + 2) * 128], ACC(mt, nt, 2); \
    OP [%sa + ((mt * NT + nt) * 4 + 3) * 128], ACC(mt, nt, 3);
#define RED_LD1(mt, nt, i) ld.shared.f32 %e0, [%sa + ((mt * NT + nt) * 4 + i) * 128]; \
    add.f32 ACC(mt, nt, i), ACC(mt, nt, i), %e0;
#define RED_LD(mt, nt) RED_LD1(mt, nt, 0) RED_LD1(mt, nt, 1) RED_LD1(mt, nt, 2) RED_LD1(mt, nt, 3)
#define RED_LD_MT(mt) FOR_NT_A(RED_LD, mt)
#if WARPS_K > 1
    // --- sum the WARPS_K partial accumulators: warps wk > 0 park theirs in smem, warps wk == 0 add them ---
    // layout [wk-1][wmn][accumulator i][lane] f32: consecutive lanes hit consecutive banks
#define RED_ST(mt, nt) ACC_ST(st.shared.f32, mt, nt)
#define RED_ST_MT(mt) FOR_NT_A(RED_ST, mt)
    shl.b32 %x, %lane, 2;
    mad.lo.u32 %y, %wmn, NACC * 128, %x;
    mov.u32 %sbase, gemm_smem;
    add.u32 %y, %y, %sbase;                      // this (wmn, lane)'s slot for wk = 1
    setp.eq.u32 %p, %wk, 0;
    @%p bra RED_WAIT;
    sub.u32 %x, %wk, 1;
    mad.lo.u32 %sa, %x, WARPS_M * WARPS_N * NACC * 128, %y;
    FOR_MT(RED_ST_MT)
RED_WAIT:
    bar.sync 0;
    @!%p bra CL_JOIN;                            // only the wk == 0 warps go on to the epilogue
    mov.u32 %s, 1;
RED_LOOP:
    sub.u32 %x, %s, 1;
    mad.lo.u32 %sa, %x, WARPS_M * WARPS_N * NACC * 128, %y;
    FOR_MT(RED_LD_MT)
    add.u32 %s, %s, 1;
    setp.lt.u32 %q, %s, WARPS_K;
    @%q bra RED_LOOP;
#endif

    // --- cluster split-K (deterministic): ranks 1..S-1 store their sums into rank 0's slots past the ring
    // (layout [rank-1][wmn][accumulator i][lane], st.shared::cluster), one cluster barrier, rank 0 adds them in rank
    // order and runs the epilogue. Every thread of the cluster reaches CL_JOIN once. (The stores come after phase 1
    // of the cluster barrier, arrived at the start: a CTA's shared memory may be written only once it has started.)
    @!%pcl bra EPILOGUE;
    mov.u32 %crank, %cluster_ctarank;
    setp.eq.u32 %p, %crank, 0;
    @%p bra CL_JOIN;
    sub.u32 %x, %crank, 1;
    mad.lo.u32 %x, %x, WARPS_M * WARPS_N, %wmn;
    shl.b32 %y, %lane, 2;
    mad.lo.u32 %y, %x, NACC * 128, %y;
    mov.u32 %sbase, gemm_smem;
    add.u32 %y, %y, %sbase;
    add.u32 %y, %y, STAGES * STAGE_BYTES;
    mapa.shared::cluster.u32 %sa, %y, 0;
#define CL_ST(mt, nt) ACC_ST(st.shared::cluster.f32, mt, nt)
#define CL_ST_MT(mt) FOR_NT_A(CL_ST, mt)
    FOR_MT(CL_ST_MT)
CL_JOIN:
    @!%pcl bra DONE;                             // (no cluster: only the wk > 0 warps come here)
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    mov.u32 %crank, %cluster_ctarank;
    setp.eq.u32 %p, %crank, 0;
    setp.eq.and.u32 %p, %wk, 0, %p;
    @!%p bra DONE;
    shl.b32 %y, %lane, 2;
    mad.lo.u32 %y, %wmn, NACC * 128, %y;
    mov.u32 %sbase, gemm_smem;
    add.u32 %y, %y, %sbase;
    add.u32 %sa, %y, STAGES * STAGE_BYTES;       // rank 1's slot; each next rank's is WARPS_M*WARPS_N*NACC*128 on
    mov.u32 %x, %cluster_nctarank;
    mov.u32 %s, 1;
CL_ADD:
    FOR_MT(RED_LD_MT)
    add.u32 %sa, %sa, WARPS_M * WARPS_N * NACC * 128;
    add.u32 %s, %s, 1;
    setp.lt.u32 %q, %s, %x;
    @%q bra CL_ADD;

EPILOGUE:
    // --- epilogue: thread holds rows (l>>2) and (l>>2)+8 of each m16 tile, columns 2(l&3), +1 of each n8 tile ---
    shr.u32 %x, %lane, 2;
    mad.lo.u32 %row, %wm, MT * 16, %x;
    add.u32 %row, %row, %m0;                     // row of accumulators (mt=0, i=0,1)
    and.b32 %x, %lane, 3;
    shl.b32 %x, %x, 1;
    mad.lo.u32 %col, %wn, NT * 8, %x;
    add.u32 %col, %col, %n0;
#define COLPRED(nt) add.u32 %x, %col, nt * 8; setp.lt.u32 %pc_##nt, %x, %N;
    FOR_NT(COLPRED)
    setp.eq.u32 %p, %mode, 4;
    @%p bra EPI_4;
    // element size: 2 bytes for bf16, else 4
    setp.eq.u32 %pk, %mode, 1;
    selp.b32 %s, 2, 4, %pk;
    mul.wide.u32 %crow, %row, %N;
    cvt.u64.u32 %d, %col;
    add.u64 %crow, %crow, %d;
    cvt.u64.u32 %d, %s;
    mul.lo.u64 %crow, %crow, %d;
    add.u64 %crow, %crow, %pC;                   // &C[row][col]
    mul.wide.u32 %ldc8, %N, 8;
    mul.lo.u64 %ldc8, %ldc8, %d;                 // 8 rows of C in bytes
    shl.b64 %ldc16, %ldc8, 1;

    // one copy of the unrolled stores per mode; %plo/%phi: rows r and r+8 of this m16 tile are < M
#define EPI_MT(mt, BODY) \
    add.u32 %x, %row, mt * 16; setp.lt.u32 %plo, %x, %M; add.u32 %x, %x, 8; setp.lt.u32 %phi, %x, %M; \
    FOR_NT_A(BODY, mt) add.u64 %crow, %crow, %ldc16;
#define ST_F32(mt, nt) \
    and.pred %pl, %plo, %pc_##nt; @%pl st.global.v2.f32 [%crow + nt * 32], {ACC(mt, nt, 0), ACC(mt, nt, 1)}; \
    add.u64 %cp, %crow, %ldc8; \
    and.pred %pl, %phi, %pc_##nt; @%pl st.global.v2.f32 [%cp + nt * 32], {ACC(mt, nt, 2), ACC(mt, nt, 3)};
#define ST_BF16(mt, nt) \
    and.pred %pl, %plo, %pc_##nt; cvt.rn.bf16x2.f32 %h, ACC(mt, nt, 1), ACC(mt, nt, 0); \
    @%pl st.global.b32 [%crow + nt * 16], %h; \
    add.u64 %cp, %crow, %ldc8; \
    and.pred %pl, %phi, %pc_##nt; cvt.rn.bf16x2.f32 %h, ACC(mt, nt, 3), ACC(mt, nt, 2); \
    @%pl st.global.b32 [%cp + nt * 16], %h;
#define ADD_F32(mt, nt) \
    and.pred %pl, %plo, %pc_##nt; @%pl ld.global.v2.f32 {%e0, %e1}, [%crow + nt * 32]; \
    add.f32 %e0, %e0, ACC(mt, nt, 0); add.f32 %e1, %e1, ACC(mt, nt, 1); \
    @%pl st.global.v2.f32 [%crow + nt * 32], {%e0, %e1}; \
    add.u64 %cp, %crow, %ldc8; \
    and.pred %pl, %phi, %pc_##nt; @%pl ld.global.v2.f32 {%e2, %e3}, [%cp + nt * 32]; \
    add.f32 %e2, %e2, ACC(mt, nt, 2); add.f32 %e3, %e3, ACC(mt, nt, 3); \
    @%pl st.global.v2.f32 [%cp + nt * 32], {%e2, %e3};
#define RED_F32(mt, nt) \
    and.pred %pl, %plo, %pc_##nt; @%pl red.global.add.v2.f32 [%crow + nt * 32], {ACC(mt, nt, 0), ACC(mt, nt, 1)}; \
    add.u64 %cp, %crow, %ldc8; \
    and.pred %pl, %phi, %pc_##nt; @%pl red.global.add.v2.f32 [%cp + nt * 32], {ACC(mt, nt, 2), ACC(mt, nt, 3)};
#define EPI_ST_F32(mt) EPI_MT(mt, ST_F32)
#define EPI_ST_BF16(mt) EPI_MT(mt, ST_BF16)
#define EPI_ADD_F32(mt) EPI_MT(mt, ADD_F32)
#define EPI_RED_F32(mt) EPI_MT(mt, RED_F32)
    setp.eq.u32 %p, %mode, 0;
    @%p bra EPI_0;
    @%pk bra EPI_1;
    setp.eq.u32 %p, %mode, 2;
    @%p bra EPI_2;
    FOR_MT(EPI_RED_F32)
    bra DONE;
EPI_0:
    FOR_MT(EPI_ST_F32)
    bra DONE;
EPI_1:
    FOR_MT(EPI_ST_BF16)
    bra DONE;
EPI_2:
    FOR_MT(EPI_ADD_F32)
    bra DONE;
    // --- SwiGLU: n8 tiles 2p (gate) and 2p + 1 (up) -> outputs (col - colin) / 2 + colin + 8p of a bf16 [M][N/2]
#define SWI_PAIR(mt, g, u, p) \
    and.pred %pl, %plo, %pc_##g; SILU_MUL(ACC(mt, g, 0), ACC(mt, u, 0), %e0) \
    SILU_MUL(ACC(mt, g, 1), ACC(mt, u, 1), %e1) cvt.rn.bf16x2.f32 %h, %e1, %e0; \
    @%pl st.global.b32 [%crow + p * 16], %h; \
    add.u64 %cp, %crow, %ldc8; \
    and.pred %pl, %phi, %pc_##g; SILU_MUL(ACC(mt, g, 2), ACC(mt, u, 2), %e2) \
    SILU_MUL(ACC(mt, g, 3), ACC(mt, u, 3), %e3) cvt.rn.bf16x2.f32 %h, %e3, %e2; \
    @%pl st.global.b32 [%cp + p * 16], %h;
#define EPI_SWI_MT(mt) \
    add.u32 %x, %row, mt * 16; setp.lt.u32 %plo, %x, %M; add.u32 %x, %x, 8; setp.lt.u32 %phi, %x, %M; \
    CAT(PAIRS, NT)(SWI_PAIR, mt) add.u64 %crow, %crow, %ldc16;
EPI_4:
    and.b32 %x, %lane, 3;
    shl.b32 %x, %x, 1;                           // colin
    sub.u32 %y, %col, %x;
    shr.u32 %y, %y, 1;
    add.u32 %y, %y, %x;                          // output column
    shr.u32 %s, %N, 1;                           // output row pitch
    mul.wide.u32 %crow, %row, %s;
    cvt.u64.u32 %d, %y;
    add.u64 %crow, %crow, %d;
    shl.b64 %crow, %crow, 1;
    add.u64 %crow, %crow, %pC;
    mul.wide.u32 %ldc8, %s, 16;                  // 8 rows of bf16
    shl.b64 %ldc16, %ldc8, 1;
    FOR_MT(EPI_SWI_MT)
DONE:
    ret;
}

#undef NAME
#undef BM
#undef BN
#undef STAGES
#undef WARPS_M
#undef WARPS_N
#undef WARPS_K
#undef MT
#undef NT
#undef NTHREADS
#undef MAXNREG
#undef NT_HALF
#undef KS_LOCAL_N
#undef CA_N
#undef CW_N
#undef KSH
#undef ROWB
