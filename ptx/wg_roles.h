// wg_roles.h — the role split every warp-specialised kernel here shares (gemm_wg_body.h, attn_wg_body.h).
// Registers the includer declares: %p (pred), %tx (thread index), %wg (warpgroup), %wc, %lane (b32), %plane0 (pred).
//
// WG_SPLIT_ROLES: after thread 0 has initialised the mbarriers, the whole CTA meets once (bar.sync 0; a clustered
// kernel passes its cluster barrier to WG_SPLIT_ROLES_AFTER instead); warpgroups
// 1.. jump to CONSUMER; warpgroup 0 gives registers back (setmaxnreg.dec 40: all four of its warps execute it) and
// all but its thread 0 leave — what follows is the producer, one thread issuing every TMA load.
// WG_CONSUMER_ENTER: the CONSUMER label; the consumer warpgroups take the registers (setmaxnreg.inc 232 — the
// accumulators live there; 40 + 2 x 232 = 504 x 128 fits the 64K-register file), %wc = consumer index 0.., and
// %plane0 = "lane 0 of its warp" (one arrival per warp on the empty barriers).
#pragma once
#define WG_SPLIT_ROLES WG_SPLIT_ROLES_AFTER(bar.sync 0;)
#define WG_SPLIT_ROLES_AFTER(SYNC) INIT_DONE: SYNC setp.ne.u32 %p, %wg, 0; @%p bra CONSUMER; \
    setmaxnreg.dec.sync.aligned.u32 40; setp.ne.u32 %p, %tx, 0; @%p bra EXIT;
#define WG_CONSUMER_ENTER CONSUMER: setmaxnreg.inc.sync.aligned.u32 232; sub.u32 %wc, %wg, 1; \
    setp.eq.u32 %plane0, %lane, 0;
