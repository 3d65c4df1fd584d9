// quants.h — ggml block formats: sizes, dequantizers to f32, quantizers (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K), f16/bf16 conversion.
// defines: ggml_blck_size, ggml_type_size, ggml_row_bytes, dequantize_row, quantize_row_*
#pragma once
#include <stdint.h>
#include <stddef.h>

int      ggml_blck_size(uint32_t type);   // elements per block (1 for F32/F16/BF16, 32, or 256); 0 if unsupported
size_t   ggml_type_size(uint32_t type);   // bytes per block
uint64_t ggml_row_bytes(uint32_t type, int64_t n);  // n must be a multiple of the block size

float    f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);   // round to nearest even
float    bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // round to nearest even, NaN stays NaN

// Dequantize n elements (multiple of the block size) of the given type.
void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
// Quantize n floats (multiple of the block size) into dst; return bytes written.
size_t quantize_row_q8_0(const float *src, void *dst, int64_t n);
size_t quantize_row_q4_0(const float *src, void *dst, int64_t n);
size_t quantize_row_q5_0(const float *src, void *dst, int64_t n);
size_t quantize_row_q4_k(const float *src, void *dst, int64_t n);
// The 8 (scale, min) pairs a Q4_K / Q5_K block packs in 12 bytes, one byte each (6-bit values).
void k_scales_unpack(const uint8_t *s12, uint8_t sc[8], uint8_t m[8]);
size_t quantize_row_q5_k(const float *src, void *dst, int64_t n);
size_t quantize_row_q6_k(const float *src, void *dst, int64_t n);
size_t quantize_row(uint32_t type, const float *src, void *dst, int64_t n);  // F32/F16/BF16/Q8_0/Q4_0/Q5_0/Q4_K/Q5_K/Q6_K
