/* Rotary position embedding (Su et al. 2021, RoFormer eq. 34), in the
 * "rotate_half" layout Hugging Face uses for Llama/Qwen: dimension i of the
 * first half pairs with dimension i + rotary_dim/2. With partial rotary only
 * the first rotary_dim dimensions of a head rotate; the rest pass through. */
#ifndef HYRECALL_ROPE_H
#define HYRECALL_ROPE_H

#include <stdint.h>

/* cos/sin of n positions, [n, rotary_dim/2] each. */
struct rope_table {
    float *cos, *sin;
    int n, half;
};

int rope_table_init(struct rope_table *r, int max_n, int rotary_dim);
void rope_table_free(struct rope_table *r);

/* Fills the table for positions pos0 .. pos0+n-1: base theta, and a linear
 * position scaling factor (0 for none). */
void rope_table_fill(struct rope_table *r, double theta, double linear_factor, int64_t pos0, int n);

/* Rotates x[n, heads, head_dim] in place, row t at table row t. */
void rope_apply(const struct rope_table *r, float *x, int n, int heads, int head_dim);

#endif
