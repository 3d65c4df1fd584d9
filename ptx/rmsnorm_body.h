// rmsnorm_body.h — the body of the RMSNorm kernels of rmsnorm.ptx, included once per variant:
//   RMS_ENTRY  the .entry name;  RMS_FP8 0: bf16 out (8 bytes a float4), 1: e4m3 out (4 bytes a float4) + scales,
//              2: the same with one scale a row (Y16 / Q8 instead of SCALE_STORE);
//   OUT_SHIFT, OUT4  log2 of the output element size (1 bf16, 0 e4m3), output bytes per float4 (8, 4);
//   SCALE_STORE(K) the phase-3 step for float4 K.
.visible .entry RMS_ENTRY(
    .param .u64 p_out,
#if RMS_FP8
    .param .u64 p_sa,
#endif
    .param .u64 p_in,
    .param .u64 p_w,
    .param .u64 p_rows,
    .param .u32 p_n_rows,
    .param .u32 p_dim,
    .param .f32 p_eps)
.reqntid RMS_THREADS, 1, 1
{
    PDL_START
    .reg .pred %p<4>, %pe, %pg;
    .reg .pred %pv<RMS_VEC>;
    .reg .f32 %a<RMS_VEC>, %b<RMS_VEC>, %c<RMS_VEC>, %d<RMS_VEC>;
    .reg .f32 %ss, %t, %rstd, %eps;
    .reg .f32 %w<4>, %y<4>;
    .reg .b64 %pol;
    .reg .b32 %r_ws;
    .reg .b32 %h<2>;
    .reg .b32 %r_row, %r_src, %r_dim, %r_nrows, %r_tid, %r_c, %r_lane, %r_warp, %r_saddr;
    .reg .b64 %rd_out, %rd_in, %rd_w, %rd_rows, %rd<8>;
#if RMS_FP8
    .reg .b64 %rd_sa;
    .reg .f32 %amax, %scale, %inv, %sh;
    .reg .b32 %q;
    .reg .b16 %e0, %e1;
#endif
    .shared .align 16 .f32 s_part[RMS_WARPS];
#if RMS_FP8 == 2
    .shared .align 16 .f32 s_amax[RMS_WARPS];
#endif

    // --- row selection ---
    ld.param.u64 %rd_out, [p_out];
    ld.param.u64 %rd_in, [p_in];
    ld.param.u64 %rd_w, [p_w];
    ld.param.u64 %rd_rows, [p_rows];
    ld.param.u32 %r_nrows, [p_n_rows];
    ld.param.u32 %r_dim, [p_dim];
    ld.param.f32 %eps, [p_eps];
    mov.u32 %r_row, %ctaid.x;
    setp.ge.u32 %p1, %r_row, %r_nrows;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd_out, %rd_out;
    cvta.to.global.u64 %rd_in, %rd_in;
    cvta.to.global.u64 %rd_w, %rd_w;
    // the weights first (they depend on nothing), if the host gave dynamic shared memory for them (few rows: the
    // kernel is a chain of round trips); else they are read from global memory after the reduction. w + tid*16
    mov.u32 %r_tid, %tid.x;
    mov.u32 %r_c, %dynamic_smem_size;
    shl.b32 %r_ws, %r_dim, 2;
    setp.ge.u32 %pe, %r_c, %r_ws;
    mul.wide.u32 %rd2, %r_tid, 16;
    add.u64 %rd_w, %rd_w, %rd2;
    mov.u32 %r_ws, s_w;
    shl.b32 %r_c, %r_tid, 4;
    add.u32 %r_ws, %r_ws, %r_c;
    createpolicy.fractional.L2::evict_last.b64 %pol, 1.0;
    shl.b32 %r_c, %r_tid, 2;
    LOAD_W(0)
    LOAD_W(1)
    LOAD_W(2)
    LOAD_W(3)
    LOAD_W(4)
    LOAD_W(5)
    LOAD_W(6)
    LOAD_W(7)
    cp.async.commit_group;
    mov.u32 %r_src, %r_row;
    setp.ne.u64 %p2, %rd_rows, 0;
    @!%p2 bra HAVE_SRC;
    cvta.to.global.u64 %rd_rows, %rd_rows;
    mul.wide.u32 %rd1, %r_row, 4;
    add.u64 %rd1, %rd_rows, %rd1;
    ld.global.nc.u32 %r_src, [%rd1];
HAVE_SRC:
#if RMS_FP8
    // scales: sa + (row*dim/128 + warp)*4; float4 K of this thread lies in group warp + 8K
    ld.param.u64 %rd_sa, [p_sa];
    cvta.to.global.u64 %rd_sa, %rd_sa;
    shr.u32 %r_c, %r_dim, 7;
    mul.lo.u32 %r_c, %r_c, %r_row;
    shr.u32 %r_warp, %r_tid, 5;
    add.u32 %r_c, %r_c, %r_warp;
    mul.wide.u32 %rd1, %r_c, 4;
    add.u64 %rd_sa, %rd_sa, %rd1;
#endif
    // in row: in + src*dim*4 + tid*16; out row: out + row*dim*2 + tid*8
    mul.wide.u32 %rd1, %r_src, %r_dim;
    shl.b64 %rd1, %rd1, 2;                      // rd2 = tid*16 from the weights' address above
    add.u64 %rd_in, %rd_in, %rd1;
    add.u64 %rd_in, %rd_in, %rd2;
    mul.wide.u32 %rd3, %r_row, %r_dim;
    shl.b64 %rd3, %rd3, OUT_SHIFT;
    mul.wide.u32 %rd4, %r_tid, OUT4;
    add.u64 %rd_out, %rd_out, %rd3;
    add.u64 %rd_out, %rd_out, %rd4;

    // --- phase 1: load the row slice into registers, sum of squares ---
    shl.b32 %r_c, %r_tid, 2;                    // first element of float4 number tid
    mov.f32 %ss, 0f00000000;
    LOAD_SQ(0)
    LOAD_SQ(1)
    LOAD_SQ(2)
    LOAD_SQ(3)
    LOAD_SQ(4)
    LOAD_SQ(5)
    LOAD_SQ(6)
    LOAD_SQ(7)

    // --- phase 2: block reduction (butterfly in each warp, then 8 partials through smem) ---
    WARP_SUM(%ss, %t)
    and.b32 %r_lane, %r_tid, 31;
    shr.u32 %r_warp, %r_tid, 5;
    setp.eq.u32 %p3, %r_lane, 0;
    mov.u32 %r_saddr, s_part;
    shl.b32 %r_c, %r_warp, 2;
    add.u32 %r_saddr, %r_saddr, %r_c;
    @%p3 st.shared.f32 [%r_saddr], %ss;
    bar.sync 0;
    // every thread adds the 8 partials in the same order (rms.h): the same rstd everywhere, no second barrier
    RMS_RSTD(s_part, %w0, %w1, %w2, %w3, %y0, %y1, %y2, %y3, %r_dim, %eps, %rstd)

    // --- phase 3: scale by rstd and the weight (this thread's own copies: no barrier), store bf16 (or quantise) ---
    cp.async.wait_all;
#if RMS_FP8 == 2
    // one scale a row: the bf16 values and their amax, the CTA's max (s_amax), then quantise (rmsnorm.ptx Y16, Q8)
    mov.f32 %amax, 0f00000000;
    Y16(0) Y16(1) Y16(2) Y16(3) Y16(4) Y16(5) Y16(6) Y16(7)
    WARP_MAX(%amax, %sh)
    mov.u32 %r_saddr, s_amax;
    shl.b32 %r_c, %r_warp, 2;
    add.u32 %r_saddr, %r_saddr, %r_c;
    @%p3 st.shared.f32 [%r_saddr], %amax;
    bar.sync 0;
    mov.u32 %r_saddr, s_amax;
    ld.shared.v4.f32 {%w0, %w1, %w2, %w3}, [%r_saddr];
    max.f32 %amax, %w0, %w1; max.f32 %amax, %amax, %w2; max.f32 %amax, %amax, %w3;
    ld.shared.v4.f32 {%w0, %w1, %w2, %w3}, [%r_saddr + 16];
    max.f32 %amax, %amax, %w0; max.f32 %amax, %amax, %w1; max.f32 %amax, %amax, %w2; max.f32 %amax, %amax, %w3;
    setp.gt.f32 %p2, %amax, 0f00000000; div.rn.f32 %scale, %amax, 0f43E00000;
    @!%p2 mov.f32 %scale, 0f3F800000; rcp.rn.f32 %inv, %scale;
    Q8(0) Q8(1) Q8(2) Q8(3) Q8(4) Q8(5) Q8(6) Q8(7)
#else
    SCALE_STORE(0)
    SCALE_STORE(1)
    SCALE_STORE(2)
    SCALE_STORE(3)
    SCALE_STORE(4)
    SCALE_STORE(5)
    SCALE_STORE(6)
    SCALE_STORE(7)
#endif
DONE:
    ret;
}

