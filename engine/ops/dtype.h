/* Element types of safetensors files and conversions between them.
 * Weights are kept in their file dtype inside the mmap. BF16 matrices are
 * used from there by kernels that widen as they stream (matvec.h); other
 * tensors a kernel needs as float32 get a converted copy (bf16/f16 -> f32 is
 * exact). */
#ifndef HYRECALL_DTYPE_H
#define HYRECALL_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum dtype { DT_F32, DT_F16, DT_BF16, DT_F64, DT_I64, DT_I32, DT_I16, DT_I8, DT_U8, DT_BOOL, DT_COUNT };

/* Name as spelled in a safetensors header ("F32", "BF16", ...). */
const char *dtype_name(enum dtype t);
/* Parses a safetensors dtype name; returns -1 if unknown. */
int dtype_parse(const char *name, enum dtype *out);
size_t dtype_size(enum dtype t);

float bf16_to_f32(uint16_t h);
float f16_to_f32(uint16_t h);
/* Round to nearest, ties to even, as torch's .to(bfloat16/float16) does.
 * f32_to_bf16 is inline so that loops over it vectorise (bf16_round). */
static inline uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                          /* nearest even */
    return (uint16_t)(u >> 16);
}
uint16_t f32_to_f16(float f);

/* Converts n elements of a floating dtype (F32, F16, BF16) to float32.
 * src need not be aligned. */
void dtype_to_f32(enum dtype t, const void *src, float *dst, size_t n);

#endif
