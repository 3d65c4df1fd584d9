// pdl.h — programmatic dependent launch (sm_90). The host launches every kernel with
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (host/gpu.c, QWEN3_PDL=0 turns it off), so a kernel's CTAs
// may become resident while the kernel before it on the stream still runs. Each entry therefore starts with
// PDL_START before it touches anything an earlier kernel writes or reads:
//   griddepcontrol.wait               blocks until the previous grid has completed and its writes are visible; since
//                                     every kernel waits, completion is transitive along the stream
//   griddepcontrol.launch_dependents  lets the next kernel's CTAs be scheduled once every CTA of this grid has got
//                                     here (all of this grid is resident by then, so waiting CTAs never starve it)
// Both instructions are no-ops in a launch without the attribute. Only immutable data, weights, may be read before
// the wait: the swapped decode tile (gemm_sw_body.h) and the wgmma tiles (gemm_wg_body.h, session 39) request their
// ring's first weight slices there; an L2 prefetch of the GEMM's first weight bytes measured slower (NOTES, session 4).
#ifndef PDL_H
#define PDL_H
#define PDL_WAIT griddepcontrol.wait;
#ifndef QWEN3_TRACE
#define PDL_START griddepcontrol.wait; griddepcontrol.launch_dependents;
#else
// The timeline build (make TRACE=1, host/gpu.c's QWEN3_TRACE=FILE): the last thread of CTA 0 of every launch records
// the global timer before and after its wait (t0: CTA 0 is resident; t1: the previous kernel has completed) with its
// module (set by the host at load) and grid into slot (t1 / 512 ns) mod 2^22 of the host's buffer — no atomic, so
// nothing waits on it (%gridid would not do: a graph's replays keep their nodes' ids; two launches of a chain have
// their t1 at least one kernel apart, ~1 us); 32 bytes a slot: t0, t1 (u64), gridid (low 32 bits), module,
// nctaid.x, nctaid.y << 16 | ntid.x. The slots wrap after 2.1 s: trace short runs.
.const .align 8 .u64 qwen3_trace;
.const .align 4 .u32 qwen3_trace_mod;
// the GEMMs' unit timeline (gemm_wg_body.h's UT_ macros; host/gpu.c sets it where a module has it)
.const .align 8 .u64 qwen3_utrace;
#define PDL_START { \
    .reg .u64 %tq_t0, %tq_t1, %tq_p, %tq_a; .reg .u32 %tq_u, %tq_v, %tq_w, %tq_x, %tq_t; .reg .pred %tq_q; \
    mov.u64 %tq_t0, %globaltimer; \
    ld.const.u64 %tq_p, [qwen3_trace]; \
    griddepcontrol.wait; \
    mov.u64 %tq_t1, %globaltimer; \
    griddepcontrol.launch_dependents; \
    mov.u32 %tq_u, %ctaid.x; mov.u32 %tq_v, %ctaid.y; or.b32 %tq_u, %tq_u, %tq_v; \
    mov.u32 %tq_v, %ctaid.z; or.b32 %tq_u, %tq_u, %tq_v; mov.u32 %tq_v, %tid.y; or.b32 %tq_u, %tq_u, %tq_v; \
    mov.u32 %tq_v, %tid.z; or.b32 %tq_u, %tq_u, %tq_v; \
    mov.u32 %tq_v, %tid.x; mov.u32 %tq_w, %ntid.x; sub.u32 %tq_w, %tq_w, 1; xor.b32 %tq_v, %tq_v, %tq_w; \
    or.b32 %tq_u, %tq_u, %tq_v; setp.eq.u32 %tq_q, %tq_u, 0; setp.ne.and.u64 %tq_q, %tq_p, 0, %tq_q; \
    mov.u64 %tq_a, %gridid; cvt.u32.u64 %tq_u, %tq_a; shr.u64 %tq_a, %tq_t1, 9; cvt.u32.u64 %tq_v, %tq_a; \
    and.b32 %tq_v, %tq_v, 4194303; mul.wide.u32 %tq_a, %tq_v, 32; add.s64 %tq_a, %tq_a, %tq_p; \
    @%tq_q st.global.v2.u64 [%tq_a], {%tq_t0, %tq_t1}; \
    ld.const.u32 %tq_v, [qwen3_trace_mod]; mov.u32 %tq_w, %nctaid.x; mov.u32 %tq_x, %nctaid.y; shl.b32 %tq_x, %tq_x, 16; \
    mov.u32 %tq_t, %ntid.x; or.b32 %tq_x, %tq_x, %tq_t; \
    @%tq_q st.global.v4.u32 [%tq_a + 16], {%tq_u, %tq_v, %tq_w, %tq_x}; \
}
#endif
#endif
