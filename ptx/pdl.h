// pdl.h — programmatic dependent launch (sm_90). The host launches every kernel with
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (host/gpu.c, QWEN3_PDL=0 turns it off), so a kernel's CTAs
// may become resident while the kernel before it on the stream still runs. Each entry therefore starts with
// PDL_START before it touches anything an earlier kernel writes or reads:
//   griddepcontrol.wait               blocks until the previous grid has completed and its writes are visible; since
//                                     every kernel waits, completion is transitive along the stream
//   griddepcontrol.launch_dependents  lets the next kernel's CTAs be scheduled once every CTA of this grid has got
//                                     here (all of this grid is resident by then, so waiting CTAs never starve it)
// Only immutable data (weights) may be read before the wait: the mma.sync GEMM can prefetch its first weight bytes
// into L2 there (gemm_bf16_body.h; off by default, measured slower). Both instructions are no-ops in a launch
// without the attribute.
#define PDL_WAIT griddepcontrol.wait;
#define PDL_START griddepcontrol.wait; griddepcontrol.launch_dependents;
