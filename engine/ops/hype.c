#include "engine/ops/hype.h"

#include <math.h>

#include "engine/ops/dtype.h"
#include "engine/ops/ops.h"

float hype_factor(double a, int64_t t)
{
    /* position_ids + a: float32; full_like(position_ids, a): int64, so ⌊a⌋. */
    return logf((float)t + (float)a) / logf((float)(int64_t)a);
}

void query_scaling_apply(const struct query_scaling *s, float *q, int n, int heads, int d, int64_t pos0)
{
    if (s->kind == QUERY_SCALING_NONE) return;
    const int64_t row = (int64_t)heads * d;
#pragma omp parallel for schedule(static) if ((int64_t)n * row >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        const float f = s->kind == QUERY_SCALING_HYPE ? hype_factor(s->value, pos0 + t) : (float)s->value;
        float *qt = q + t * row;
        for (int64_t i = 0; i < row; i++) qt[i] = bf16_to_f32(f32_to_bf16(qt[i] * f));
    }
}
