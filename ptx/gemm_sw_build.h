// gemm_sw_build.h — the part of gemm_fp8_sw8b (gemm_sw_body.h with SW_BUILD) that makes the GEMM's e4m3 input
// itself instead of TMA-loading what a norm or quantiser kernel wrote: included twice, SW_BUILD_PHASE 0 before the
// programmatic-dependent-launch wait (nothing an earlier kernel writes), 1 after it.
//
// Why (NOTES, session 21): at batch 1 a linear layer's input costs a launch of its own before the GEMM — the RMSNorm
// before qkv and gate_up (launch_rmsnorm_fp8), the quantiser before down (quant_act_fp8). Here every CTA redoes that
// arithmetic for its rows (x and the norm weights from L2) while its weight slices, requested before the wait, fly.
// Measured on the H200: the 0.6B's batch 1 +6-8% (layers of 3-6 MB: a launch's fixed cost was most of a layer); the
// 4B / 8B lost 8% / 4.6% (their weight streams had hidden the separate launches; every CTA's copy of the work and
// its ring, shortened by the rows, cost more), and rows are built one after another (B = 8 halved). So the host
// sends it one row of layers of <= 8 MB (SW_BUILD_MAX_WEIGHT, QWEN3_SW_BUILD_M).
//
// Two kinds, chosen by p_nw:
//   p_nw != 0 (RMSNorm): x f32 [M][K] (the residual stream), nw f32 [K]; the bytes and scales of rmsnorm_f32_fp8
//     (ptx/rmsnorm.ptx), bit for bit: its 256 threads' sums of squares are rebuilt here in their order (thread t
//     of 128 holds float4s t + 128 i: even i are the 256-thread kernel's thread t, odd i its thread t + 128, so
//     %ssa / %ssb are its partials of warps w and w + 4), the same butterfly, the same order of the 8 warp sums,
//     div / sqrt / rcp rounded, y = bf16(x * rstd * w), then quant_fp8.h's group arithmetic. K <= 5120, K % 128 == 0.
//   p_nw == 0 (quantiser): x bf16 [M][K] (gate_up's SwiGLU output); the bytes and scales of quant_act_fp8.
// Either way float4 (or 4 bf16) number j = t + 128 i of a row lies in 128-group j / 32 = w + 4 i: a warp's group,
// so a group's amax is a warp max (as in both kernels above).
// Shared memory after the split partials (host/gpu_gemm.c sizes it; the kernel traps if it is short): lin (the
// e4m3 rows, M x K bytes, row-major), scl (their scales, f32 [M][K/128], rounded up to 16 bytes), spart (f32
// [M][8]: the warp sums). The quantiser fills only this cluster rank's slices; the RMSNorm sums whole rows.
// The stages' activation slots (MB = 8 rows x 128 B) get their rows m < M from lin per slice (SW_WRITE_A, thread
// 8m + c copies 16-byte chunk c to chunk c ^ m: the 128-byte swizzle), the rows past M stay the zeros written here.
#if SW_BUILD_PHASE == 0
    // --- before the wait: the layout, the zero rows, this thread's copy chunk, the norm weights ---
    ld.param.u64 %px, [p_x];
    ld.param.u64 %pnw, [p_nw];
    ld.param.f32 %eps, [p_eps];
    setp.ne.u64 %pnorm, %pnw, 0;
    sub.u32 %t1, %S, 1;
    mad.lo.u32 %lin, %t1, MB * 256, %red;
    mul.lo.u32 %t1, %M, %K;
    add.u32 %scl, %lin, %t1;
    shr.u32 %t2, %t1, 5;
    add.u32 %t2, %t2, 15;
    and.b32 %t2, %t2, -16;                     // (16-byte aligned: spart is read as float4)
    add.u32 %spart, %scl, %t2;
    shl.b32 %t1, %M, 5;
    add.u32 %t1, %spart, %t1;
    sub.u32 %t1, %t1, %sbase;
    mov.u32 %t2, %dynamic_smem_size;
    setp.gt.u32 %p, %t1, %t2;
    @%p trap;                                  // the host's size must hold lin, scl and spart
    setp.gt.and.u32 %p, %K, 5120, %pnorm;
    @%p trap;                                  // the RMSNorm holds a row in 10 float4 a thread
    // zero every stage's activation slot (16 B a thread a step)
    shl.b32 %t1, %tx, 4;
    shl.b32 %t2, %nst, 10;
ZERO_SLOTS:
    setp.lt.u32 %p, %t1, %t2;
    @!%p bra ZERO_DONE;
    shr.u32 %bo, %t1, 10;
    mad.lo.u32 %bo, %bo, SW_STAGE, %sbase;
    and.b32 %bq, %t1, 1023;
    add.u32 %bo, %bo, %bq;
    st.shared.v4.b32 [%bo + 8192], {%nil, %nil, %nil, %nil};
    add.u32 %t1, %t1, 2048;
    bra.uni ZERO_SLOTS;
ZERO_DONE:
    fence.proxy.async.shared::cta;             // (the wgmmas read the slots through the async proxy)
    // this thread's share of SW_WRITE_A: row m = tx / 8, chunk c = tx % 8 (rows < M only)
    shr.u32 %bm, %tx, 3;
    and.b32 %t2, %tx, 7;
    shl.b32 %t1, %M, 3;
    setp.lt.u32 %pwa, %tx, %t1;
    mad.lo.u32 %wsrc, %bm, %K, %lin;
    shl.b32 %t1, %kt0, 7;
    add.u32 %wsrc, %wsrc, %t1;
    shl.b32 %t1, %t2, 4;
    add.u32 %wsrc, %wsrc, %t1;                 // lin + m K + 128 kt0 + 16 c (+ 128 i for slice i)
    and.b32 %t1, %bm, 7;
    xor.b32 %t1, %t1, %t2;
    shl.b32 %t1, %t1, 4;
    shl.b32 %wdst, %bm, 7;
    add.u32 %wdst, %wdst, %t1;
    add.u32 %wdst, %wdst, 8192;                // stage + 8192 + 128 m + 16 (c ^ m)
    // float4 validity (t + 128 i < K / 4: warp-uniform, K % 128 == 0) and the norm weights (immutable)
    shr.u32 %nv, %K, 2;
#define BV(i) add.u32 %t1, %tx, 128 * i; setp.lt.u32 %pv##i, %t1, %nv;
    REP10(BV)
#undef BV
    mul.wide.u32 %bxa, %tx, 16;
#define BW(i) mov.f32 %bw##i##_0, 0f00000000; mov.f32 %bw##i##_1, 0f00000000; mov.f32 %bw##i##_2, 0f00000000; \
    mov.f32 %bw##i##_3, 0f00000000; and.pred %p, %pv##i, %pnorm; \
    add.s64 %bxb, %pnw, %bxa; \
    @%p ld.global.nc.v4.f32 {%bw##i##_0, %bw##i##_1, %bw##i##_2, %bw##i##_3}, [%bxb + 2048 * i];
    REP10(BW)
#undef BW
#else
    // --- after the wait: the rows into lin / scl ---
    {
    .reg .b16 %h0, %h1;
    .reg .f32 %f2, %f3, %amax, %scale, %inv, %bt, %ssa, %ssb, %rstd;
    .reg .b32 %bi, %bg, %q;
    and.b32 %t2, %tx, 31;
    setp.eq.u32 %pl0, %t2, 0;                  // lane 0 stores a group's scale and the warp sums
    mov.u32 %bi, 0;
    @!%pnorm bra BQ_ROW;
BN_ROW:
    // row bi: float4 t + 128 i of x at px + 4 (bi K + 4 t + 512 i)
    mul.lo.u32 %t1, %bi, %K;
    mul.wide.u32 %bxb, %t1, 4;
    add.s64 %bxb, %bxb, %px;
    add.s64 %bxb, %bxb, %bxa;
    mov.f32 %ssa, 0f00000000;
    mov.f32 %ssb, 0f00000000;
#define BX(i) mov.f32 %bx##i##_0, 0f00000000; mov.f32 %bx##i##_1, 0f00000000; mov.f32 %bx##i##_2, 0f00000000; \
    mov.f32 %bx##i##_3, 0f00000000; @%pv##i ld.global.nc.v4.f32 {%bx##i##_0, %bx##i##_1, %bx##i##_2, %bx##i##_3}, \
    [%bxb + 2048 * i];
    REP10(BX)
#undef BX
#define BSQ(i, ss) fma.rn.f32 ss, %bx##i##_0, %bx##i##_0, ss; fma.rn.f32 ss, %bx##i##_1, %bx##i##_1, ss; \
    fma.rn.f32 ss, %bx##i##_2, %bx##i##_2, ss; fma.rn.f32 ss, %bx##i##_3, %bx##i##_3, ss;
    BSQ(0, %ssa) BSQ(2, %ssa) BSQ(4, %ssa) BSQ(6, %ssa) BSQ(8, %ssa)
    BSQ(1, %ssb) BSQ(3, %ssb) BSQ(5, %ssb) BSQ(7, %ssb) BSQ(9, %ssb)
#undef BSQ
    WARP_SUM(%ssa, %bt)
    WARP_SUM(%ssb, %bt)
    shl.b32 %t1, %bi, 5;
    add.u32 %t1, %t1, %spart;                  // spart[bi][0..7]: the 256-thread kernel's warp sums
    shl.b32 %t2, %w, 2;
    add.u32 %t2, %t2, %t1;
    @%pl0 st.shared.f32 [%t2], %ssa;
    @%pl0 st.shared.f32 [%t2 + 16], %ssb;
    bar.sync 0;
    RMS_RSTD(%t1, %f0, %f1, %f2, %f3, %ssa, %ssb, %amax, %bt, %K, %eps, %rstd)   // rmsnorm.ptx's order (rms.h)
    // y = bf16(x * rstd * w), the group's amax, e4m3 into lin + bi K + 4 (t + 128 i), the scale into scl
    mad.lo.u32 %bo, %bi, %K, %lin;
    shl.b32 %t1, %tx, 2;
    add.u32 %bo, %bo, %t1;
    shr.u32 %t1, %K, 7;
    mad.lo.u32 %bg, %bi, %t1, %w;
    shl.b32 %bg, %bg, 2;
    add.u32 %bg, %bg, %scl;                    // scl + 4 (bi K/128 + w) (+ 16 i)
#define BN(i) @!%pv##i bra BN_SKIP##i; \
    mul.rn.f32 %f0, %bx##i##_0, %rstd; mul.rn.f32 %f0, %f0, %bw##i##_0; \
    mul.rn.f32 %f1, %bx##i##_1, %rstd; mul.rn.f32 %f1, %f1, %bw##i##_1; \
    mul.rn.f32 %f2, %bx##i##_2, %rstd; mul.rn.f32 %f2, %f2, %bw##i##_2; \
    mul.rn.f32 %f3, %bx##i##_3, %rstd; mul.rn.f32 %f3, %f3, %bw##i##_3; \
    cvt.rn.bf16x2.f32 %t1, %f1, %f0; cvt.rn.bf16x2.f32 %t2, %f3, %f2; \
    mov.f32 %amax, 0f00000000; AMAX2(%t1) AMAX2(%t2) WARP_MAX(%amax, %bt) SCALE QUANT4(%t1, %t2, %q) \
    st.shared.b32 [%bo + 512 * i], %q; @%pl0 st.shared.f32 [%bg + 16 * i], %scale; \
BN_SKIP##i:
    REP10(BN)
#undef BN
    add.u32 %bi, %bi, 1;
    setp.lt.u32 %p, %bi, %M;
    @%p bra BN_ROW;
    bra.uni B_DONE;

BQ_ROW:
    // row bi of bf16 x, this rank's slices only (pieces p0 = 32 kt0 .. + 32 nkl: each 128-group is its own), sixteen
    // 4-value pieces p0 + t + 128 i a pass (i = i0 .. i0 + 15): one load round trip a pass (one at the 8B's down)
    mov.u32 %bq, 0;                            // i0
BQ_PASS:
    shl.b32 %t2, %kt0, 5;
    shl.b32 %t1, %bq, 7;
    add.u32 %t2, %t2, %t1;                     // p0 + 128 i0 (before t)
    mul.lo.u32 %t1, %bi, %K;
    mul.wide.u32 %bxb, %t1, 2;
    add.s64 %bxb, %bxb, %px;
    mul.wide.u32 %bxc, %t2, 8;
    add.s64 %bxb, %bxb, %bxc;
    shr.u64 %bxc, %bxa, 1;                     // 8 t bytes
    add.s64 %bxb, %bxb, %bxc;                  // x + 2 (bi K + 4 (p0 + 128 i0 + t))
    add.u32 %bo, %t1, %lin;
    shl.b32 %t1, %t2, 2;
    add.u32 %bo, %bo, %t1;
    shl.b32 %t1, %tx, 2;
    add.u32 %bo, %bo, %t1;                     // lin + bi K + 4 (p0 + 128 i0 + t)
    shr.u32 %t1, %K, 7;
    mul.lo.u32 %bg, %bi, %t1;
    shr.u32 %t1, %t2, 5;
    add.u32 %bg, %bg, %t1;
    add.u32 %bg, %bg, %w;
    shl.b32 %bg, %bg, 2;
    add.u32 %bg, %bg, %scl;                    // scl + 4 (bi K/128 + kt0 + 4 i0 + w)
    shl.b32 %t1, %bq, 7;
    add.u32 %t1, %t1, %tx;                     // piece t + 128 i0 (+ 128 i) of the rank's: valid below 32 nkl
    shl.b32 %nv, %nkl, 5;
#define BQL(i) add.u32 %t2, %t1, 128 * i; setp.lt.u32 %pq##i, %t2, %nv; mov.b32 %bqw##i##_0, 0; \
    mov.b32 %bqw##i##_1, 0; @%pq##i ld.global.nc.v2.b32 {%bqw##i##_0, %bqw##i##_1}, [%bxb + 1024 * i];
    REP16(BQL)
#undef BQL
#define BQQ(i) @!%pq##i bra BQ_SKIP##i; \
    mov.f32 %amax, 0f00000000; AMAX2(%bqw##i##_0) AMAX2(%bqw##i##_1) WARP_MAX(%amax, %bt) SCALE \
    QUANT4(%bqw##i##_0, %bqw##i##_1, %q) st.shared.b32 [%bo + 512 * i], %q; \
    @%pl0 st.shared.f32 [%bg + 16 * i], %scale; \
BQ_SKIP##i:
    REP16(BQQ)
#undef BQQ
    add.u32 %bq, %bq, 16;
    shl.b32 %t1, %bq, 7;
    setp.lt.u32 %p, %t1, %nv;                  // pieces of the rank left
    @%p bra BQ_PASS;
    add.u32 %bi, %bi, 1;
    setp.lt.u32 %p, %bi, %M;
    @%p bra BQ_ROW;
B_DONE:
    bar.sync 0;                                // lin and scl complete before SW_WRITE_A and the scale loads
    }
#endif
