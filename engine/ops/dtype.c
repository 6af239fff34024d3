#include "engine/ops/dtype.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[DT_COUNT] = {
    [DT_F32] = {"F32", 4}, [DT_F16] = {"F16", 2},   [DT_BF16] = {"BF16", 2}, [DT_F64] = {"F64", 8},
    [DT_I64] = {"I64", 8}, [DT_I32] = {"I32", 4},   [DT_I16] = {"I16", 2},   [DT_I8] = {"I8", 1},
    [DT_U8] = {"U8", 1},   [DT_BOOL] = {"BOOL", 1},
};

const char *dtype_name(enum dtype t)
{
    return (unsigned)t < DT_COUNT ? dtype_table[t].name : "?";
}

size_t dtype_size(enum dtype t)
{
    return (unsigned)t < DT_COUNT ? dtype_table[t].size : 0;
}

int dtype_parse(const char *name, enum dtype *out)
{
    for (int t = 0; t < DT_COUNT; t++)
        if (strcmp(name, dtype_table[t].name) == 0) {
            *out = (enum dtype)t;
            return 0;
        }
    return -1;
}

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* bfloat16 is the top half of an IEEE float32. */
float bf16_to_f32(uint16_t h)
{
    return bits_to_f32((uint32_t)h << 16);
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (man << 13));
    return bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f)
{
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    float a = fabsf(f);
    if (isnan(f)) return sign | 0x7e00u;
    if (a >= 65520.0f) return sign | 0x7c00u;            /* rounds to infinity */
    if (a < 6.103515625e-05f) {                          /* subnormal half: multiple of 2^-24 */
        return sign | (uint16_t)lrintf(a * 16777216.0f); /* lrintf rounds to nearest even */
    }
    uint32_t au = u & 0x7fffffffu;
    uint32_t exp = (au >> 23) - 112u, man = au & 0x7fffffu;
    uint32_t half = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++; /* carry may bump exponent: still correct */
    return sign | (uint16_t)half;
}

void dtype_to_f32(enum dtype t, const void *src, float *dst, size_t n)
{
    const unsigned char *p = src;
    switch (t) {
    case DT_F32: memcpy(dst, src, n * 4); break;
    case DT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = bf16_to_f32(h);
        }
        break;
    case DT_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = f16_to_f32(h);
        }
        break;
    default: memset(dst, 0, n * 4); break; /* callers check the dtype first */
    }
}
