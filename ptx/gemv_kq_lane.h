// gemv_kq_lane.h — part of ptx/gemv_kq_body.h (read its header): each lane's place in a step of the weight type
// Q6 / T0 / Q5 select (offsets of its codes, x, scales); the body includes it once before the pair loop, the
// two-type entries (Q46) once a pair in each type's path.
    // --- this lane's place in a step ---
#if Q6
    // block (lane >> 2) of the step's 8; half n = (lane >> 1) & 1 of it (128 elements); l0 = 16 (lane & 1) within
    // the half: ql bytes 64n + l0 (+ 32), qh bytes 32n + l0; elements 128n + l0 + 32t (t = 0..3), scales
    // 8n + (lane & 1) + 2t
    shr.u32 %r1, %lane, 1;
    and.b32 %r1, %r1, 1;                     // n
    and.b32 %r2, %lane, 1;
    shl.b32 %lo16, %r2, 4;                   // l0
    shl.b32 %sh, %r2, 3;                     // scale byte position within a word (t = 0, 2)
    mad.lo.u32 %xo, %r1, 288, %lo16;
    add.u32 %xo, %xo, %lo16;                 // x byte offset in the block: chunk 2n (144 bytes each), element l0
    shl.b32 %dxo, %r1, 4;                    // dx of 32-blocks 4n + t: byte offset 16n
    mad.lo.u32 %sxo, %r1, 8, %r2;
    shl.b32 %sxo, %sxo, 2;                   // sx of 16-groups 8n + 2t + (lane & 1)
    mov.u32 %ta, %r1;                        // (n, kept for the load offsets)
#elif T0
    // 256 elements (8 blocks of 32) make a step's unit here too: lane takes 64-element chunk j = lane & 3 of unit
    // lane >> 2, i.e. blocks 2j (sub-block "l" below) and 2j + 1 ("h"): code bytes 64j (Q8_0) or 32j (Q4_0 / Q5_0)
    and.b32 %r2, %lane, 3;                   // j
    shl.b32 %lo16, %r2, T0QS;                // code byte offset in the unit
    mul.lo.u32 %xo, %r2, 144;                // x byte offset of chunk j (element 64j)
    shl.b32 %dxo, %r2, 3;                    // dx of 32-blocks 2j, 2j + 1; Q5_0's qh words of blocks 2j, 2j + 1
    shl.b32 %sxo, %r2, 4;                    // sx of 16-groups 4j .. 4j + 3
    shl.b32 %ra, %r2, 2;                     // d (f16) of blocks 2j, 2j + 1
#else
    // block (lane >> 2) of the step's 8; 64-element chunk j = lane & 3 of it: qs bytes 32j .. 32j + 31, whose low
    // nibbles are sub-block 2j (elements 64j ..) and high nibbles sub-block 2j + 1 (64j + 32 ..)
    and.b32 %r2, %lane, 3;                   // j
    shl.b32 %lo16, %r2, 5;                   // qs byte offset in the block
    mul.lo.u32 %xo, %r2, 144;                // x byte offset of chunk j (element 64j)
    shl.b32 %dxo, %r2, 3;                    // dx of 32-blocks 2j, 2j + 1
    shl.b32 %sxo, %r2, 4;                    // sx of 16-groups 4j .. 4j + 3
    shr.u32 %r3, %r2, 1;
    shl.b32 %ra, %r3, 2;                     // the scale plane's word holding bytes 2j, 2j + 1
    and.b32 %r3, %r2, 1;
    shl.b32 %sh, %r3, 4;                     // their bit position in it
    shl.b32 %lo5, %r2, 1;                    // Q5_K: the fifth bits of sub-blocks 2j, 2j + 1 are bits 2j, 2j + 1
    add.u32 %hi5, %lo5, 1;                   // of qh[l]
#endif
