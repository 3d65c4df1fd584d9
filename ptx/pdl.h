// pdl.h — programmatic dependent launch (sm_90). The host launches every kernel with
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (host/gpu.c, QWEN3_PDL=0 turns it off), so a kernel's CTAs
// may become resident while the kernel before it on the stream still runs. Each entry therefore starts with
// PDL_START before it touches anything an earlier kernel writes or reads:
//   griddepcontrol.wait               blocks until the previous grid has completed and its writes are visible; since
//                                     every kernel waits, completion is transitive along the stream
//   griddepcontrol.launch_dependents  lets the next kernel's CTAs be scheduled once every CTA of this grid has got
//                                     here (all of this grid is resident by then, so waiting CTAs never starve it)
// Both instructions are no-ops in a launch without the attribute. (Only immutable data, weights, could be read
// before the wait: an L2 prefetch of the GEMM's first weight bytes there measured slower; NOTES, session 4.)
#define PDL_WAIT griddepcontrol.wait;
#define PDL_START griddepcontrol.wait; griddepcontrol.launch_dependents;
