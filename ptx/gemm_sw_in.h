// gemm_sw_in.h — the A source of the FP8 swapped tile (gemm_sw_body.h includes it after the W prologue, past
// griddepcontrol.wait): instead of TMA-loading e4m3 activation slices that a norm or quantiser launch wrote, the CTA
// makes its rows itself, with exactly those kernels' arithmetic, so the product is bit-identical:
//   p_nw != 0: X is the f32 residual stream [M][K] and the rows are rmsnorm_f32_fp8's (rmsnorm.ptx): the sum of
//              squares in the same order (thread t holds rmsnorm's virtual threads t and t + 128: its even and odd
//              float4, two partial sums, the same butterfly and the same tree over the 8 partials), bf16 of
//              x * rstd * w, then quant_fp8.h's groups of 128;
//   p_nw == 0: X is bf16 [M][K] (the SwiGLU output) and the rows are quant_act_fp8's.
// Why: at batch 1 each of those launches is a chain of round trips (~2-4 us inside the graph) between two weight
// streams; here the chain is one load of the row from L2 after the wait (the norm's weights come before it).
// Every CTA repeats the work for its own K slices (a norm's sum of squares needs the whole row): 16 KB of x and
// 16 KB of w from L2 a CTA at dim 4096, so the host takes this path for few rows only (launch_gemm_fp8_in).
// Warp w quantises groups (slices) g = w + 4 j; lane l holds channels 128 g + 4 l .. + 3, which go to chunk 8 g' +
// l / 4 (g' = g - kt0, this rank's slice), row m, byte 4 (l % 4): offset %fo + 16 m + g' x %lbo8.
// Registers (gemm_sw_body.h): %fu (an A source), %fnorm, %pv<FU_RV> (float4 j of a row exists), %wa..%wd (weights).

// Every group of a batch at once, with no branch between them (ptxas interleaves their chains): the amax of each
// (FU_AMAX), the butterflies step by step over all of them (FU_WMAX), then one scale a lane — lane j takes group j's
// amax (FU_PICK) and runs quant_fp8.h's division once for the batch — sent back (FU_INV) for the e4m3 words
// (FU_Q8). Per group j: bf16 pair words %ua##j, %ub##j, its slice %gl##j (valid when < %nkl); lane j stores its scale.
#define FU_AMAX(j) mov.f32 %amax, 0f00000000; AMAX2(%ua##j) AMAX2(%ub##j) mov.f32 %am##j, %amax;
#define FU_WMAX1(j, d) shfl.sync.bfly.b32 %tm##j, %am##j, d, 0x1f, 0xffffffff; max.f32 %am##j, %am##j, %tm##j;
#define FU_WMAX(d) FU_WMAX1(0, d) FU_WMAX1(1, d) FU_WMAX1(2, d) FU_WMAX1(3, d) FU_WMAX1(4, d) FU_WMAX1(5, d) \
    FU_WMAX1(6, d) FU_WMAX1(7, d) FU_WMAX1(8, d) FU_WMAX1(9, d)
#define FU_PICK(j) setp.eq.u32 %p, %lane, j; @%p mov.f32 %amax, %am##j; @%p mov.u32 %gsel, %gl##j;
#define FU_INV(j) shfl.sync.idx.b32 %iv##j, %inv, j, 0x1f, 0xffffffff;
#define FU_Q8(j) mov.f32 %inv, %iv##j; QUANT4(%ua##j, %ub##j, %t1) mad.lo.u32 %t2, %gl##j, %lbo8, %afm; \
    setp.lt.u32 %p, %gl##j, %nkl; @%p st.shared.b32 [%t2], %t1;
// the batch's scales (groups past it or outside this rank: amax 0, never stored)
#define FU_SCALES(N) \
    FU_WMAX(16) FU_WMAX(8) FU_WMAX(4) FU_WMAX(2) FU_WMAX(1) \
    mov.f32 %amax, 0f00000000; mov.u32 %gsel, -1; CAT(REP, N)(FU_PICK) \
    SCALE_OF(%amax, %scale, %inv, %p) \
    mad.lo.u32 %t2, %fm, %nkl, %gsel; shl.b32 %t2, %t2, 2; add.u32 %t2, %t2, %sas; \
    setp.lt.u32 %p, %gsel, %nkl; @%p st.shared.f32 [%t2], %scale; \
    CAT(REP, N)(FU_INV) CAT(REP, N)(FU_Q8)
// float4 j of row %fm (zeros past K), all requested before any is used
#define FU_LDX(j) mov.f32 %xa##j, 0f00000000; mov.f32 %xb##j, 0f00000000; mov.f32 %xc##j, 0f00000000; \
    mov.f32 %xd##j, 0f00000000; @%pv##j ld.global.nc.v4.f32 {%xa##j, %xb##j, %xc##j, %xd##j}, [%xrow + 2048 * j];
#define FU_SQ(j, S) fma.rn.f32 S, %xa##j, %xa##j, S; fma.rn.f32 S, %xb##j, %xb##j, S; \
    fma.rn.f32 S, %xc##j, %xc##j, S; fma.rn.f32 S, %xd##j, %xd##j, S;
#define FU_SQ_(j, S) FU_SQ(j, S)
#define FU_SQE(k) FU_SQ_(CAT(FU_E, k), %sse)
#define FU_SQO(k) FU_SQ_(CAT(FU_O, k), %sso)
#define FU_E0 0
#define FU_E1 2
#define FU_E2 4
#define FU_E3 6
#define FU_E4 8
#define FU_O0 1
#define FU_O1 3
#define FU_O2 5
#define FU_O3 7
#define FU_O4 9
// group w + 4 j of the normalised row (slice %gl##j of this rank when < %nkl): bf16 of x * rstd * w, its amax
#define FU_NORM(j) \
    add.u32 %gl##j, %w, 4 * j; sub.u32 %gl##j, %gl##j, %kt0; \
    mul.rn.f32 %f0, %xa##j, %rstd; mul.rn.f32 %f0, %f0, %wa##j; mul.rn.f32 %f1, %xb##j, %rstd; \
    mul.rn.f32 %f1, %f1, %wb##j; mul.rn.f32 %f2, %xc##j, %rstd; mul.rn.f32 %f2, %f2, %wc##j; \
    mul.rn.f32 %f3, %xd##j, %rstd; mul.rn.f32 %f3, %f3, %wd##j; \
    cvt.rn.bf16x2.f32 %ua##j, %f1, %f0; cvt.rn.bf16x2.f32 %ub##j, %f3, %f2; FU_AMAX(j)
// the bf16 source: 8 bytes of group w + 4 (%jj + j) of this rank (slice %gl##j), zeros past the rank's slices
#define FU_LDH(j) add.u32 %gl##j, %jj, j; shl.b32 %gl##j, %gl##j, 2; add.u32 %gl##j, %gl##j, %w; \
    setp.lt.u32 %pv##j, %gl##j, %nkl; add.u32 %t1, %gl##j, %kt0; mul.wide.u32 %c0, %t1, 256; add.s64 %c0, %c0, %xrow; \
    mov.b32 %ua##j, 0; mov.b32 %ub##j, 0; @%pv##j ld.global.nc.v2.b32 {%ua##j, %ub##j}, [%c0];
// (groups 8 and 9 of a bf16 batch: none)
#define FU_NONE(j) mov.b32 %ua##j, 0; mov.b32 %ub##j, 0; mov.u32 %gl##j, -1;

    @!%fu bra FU_END;
    // zeros where rows m >= M of the last chunks read past the rows (MB x 16 B)
    mov.u32 %zr, 0;
    mad.lo.u32 %t2, %nkl, %lbo8, %afu;
    mad.lo.u32 %t2, %tx, 16, %t2;
    setp.lt.u32 %p, %tx, MB;
    @%p st.shared.v4.b32 [%t2], {%zr, %zr, %zr, %zr};
    shr.u32 %t1, %lane, 2;
    mul.lo.u32 %fo, %t1, %lbo;
    and.b32 %t1, %lane, 3;
    mad.lo.u32 %fo, %t1, 4, %fo;
    add.u32 %fo, %fo, %afu;
    mov.u32 %fm, 0;
FU_ROW:
    mad.lo.u32 %afm, %fm, 16, %fo;             // this lane's bytes of row fm in slice 0
    @!%fnorm bra FU_BF16;
    // --- RMSNorm: the row's float4 tx + 128 j, two partial sums (rmsnorm's virtual threads tx and tx + 128)
    mul.wide.u32 %xrow, %fm, %K;
    shl.b64 %xrow, %xrow, 2;
    add.s64 %xrow, %xrow, %px;
    mul.wide.u32 %c0, %tx, 16;
    add.s64 %xrow, %xrow, %c0;
    CAT(REP, FU_RV)(FU_LDX)
    mov.f32 %sse, 0f00000000;
    mov.f32 %sso, 0f00000000;
    REP5(FU_SQE)
    REP5(FU_SQO)
    WARP_SUM(%sse, %tq)
    WARP_SUM(%sso, %tq)
    and.b32 %t1, %fm, 1;
    mad.lo.u32 %t1, %t1, 32, %ssb;             // partials of rows fm, fm + 1 in separate slots: one barrier a row
    setp.eq.u32 %p, %lane, 0;
    mad.lo.u32 %t2, %w, 4, %t1;
    @%p st.shared.f32 [%t2], %sse;
    @%p st.shared.f32 [%t2 + 16], %sso;
    bar.sync 0;
    ld.shared.v4.f32 {%f0, %f1, %f2, %f3}, [%t1];
    add.f32 %f0, %f0, %f1;
    add.f32 %f2, %f2, %f3;
    add.f32 %sse, %f0, %f2;
    ld.shared.v4.f32 {%f0, %f1, %f2, %f3}, [%t1 + 16];
    add.f32 %f0, %f0, %f1;
    add.f32 %f2, %f2, %f3;
    add.f32 %sso, %f0, %f2;
    add.f32 %sse, %sse, %sso;
    cvt.rn.f32.u32 %tq, %K;
    div.rn.f32 %sse, %sse, %tq;
    add.rn.f32 %sse, %sse, %eps;
    sqrt.rn.f32 %sse, %sse;
    rcp.rn.f32 %rstd, %sse;
    CAT(REP, FU_RV)(FU_NORM)
    FU_SCALES(FU_RV)
    bra FU_NEXT;
FU_BF16:
    // --- bf16 rows: this rank's groups, eight a warp in flight
    mul.wide.u32 %xrow, %fm, %K;
    shl.b64 %xrow, %xrow, 1;
    add.s64 %xrow, %xrow, %px;
    mul.wide.u32 %c0, %lane, 8;
    add.s64 %xrow, %xrow, %c0;
    mov.u32 %jj, 0;
FU_H:
    REP8(FU_LDH)
    FU_NONE(8)
    FU_NONE(9)
    REP8(FU_AMAX)
    mov.f32 %am8, 0f00000000;
    mov.f32 %am9, 0f00000000;
    FU_SCALES(8)
    add.u32 %jj, %jj, 8;
    shl.b32 %t1, %jj, 2;
    add.u32 %t1, %t1, %w;
    setp.lt.u32 %p, %t1, %nkl;
    @%p bra FU_H;
FU_NEXT:
    add.u32 %fm, %fm, 1;
    setp.lt.u32 %p, %fm, %M;
    @%p bra FU_ROW;
    fence.proxy.async.shared::cta;             // generic stores, read by wgmma (the async proxy)
    bar.sync 0;
FU_END:
