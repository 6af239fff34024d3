/* hyrecall bench: prefill and decode throughput of a model at several
 * context lengths, reported against this machine's own limits measured in the
 * same run (SGEMM peak, weight-streaming bandwidth). Prints figures, asserts
 * nothing. */
#ifndef HYRECALL_BENCH_H
#define HYRECALL_BENCH_H

#include <stdint.h>

#include "engine/base/error.h"
#include "engine/hyrecall.h"

struct machine_limits {
    double sgemm_gflops; /* best of several 2048^3 SGEMMs */
    double stream_gbs;   /* best of several GEMVs over a 1 GiB float32 matrix */
    int threads;
    const char *openblas_core;
};

/* Where a prefill's time goes (bench_model): the softmax-attention blocks,
 * the linear-attention blocks (lightning, gated delta rule, JetBlock), the
 * feed-forward blocks (dense or MoE), the lm_head; "other" is the rest
 * (embeddings, residual adds). Each block's share includes its input norm. */
enum bench_part { PART_ATTENTION, PART_LINEAR, PART_FFN, PART_LM_HEAD, PART_OTHER, PART_COUNT };
extern const char *const bench_part_names[PART_COUNT];

struct bench_run {
    int64_t context;
    double part_seconds[PART_COUNT], part_flops[PART_COUNT]; /* the prefill, split */
    double niah_sample_seconds; /* one NIAH sample at this context: prefill + 32 decode steps */
    double prefill_seconds, prefill_tokens_per_s, prefill_flops, prefill_fraction_of_peak;
    double decode_tokens_per_s, decode_bytes_per_token, decode_fraction_of_bandwidth;
    int64_t peak_rss_bytes;       /* of this run alone where Linux can reset the high-water mark */
    struct machine_limits around; /* the limits the fractions are taken against (bench_model) */
};

void bench_machine(struct machine_limits *m);

/* Model cost estimates (documented in bench.c): FLOPs of a prefill of T
 * tokens, and bytes read per decoded token at context T. */
double bench_prefill_flops(const struct model *m, int64_t T);
/* The same estimate by part (PART_OTHER: 0); their sum is bench_prefill_flops. */
void bench_prefill_flops_by_part(const struct model *m, int64_t T, double flops[PART_COUNT]);
double bench_decode_bytes(const struct model *m, int64_t T);

/* Prefill of `context` random tokens, then `decode_tokens` greedy steps.
 * The machine's limits are taken just before (*limits, measured by the
 * caller) and just after (measured here, left in *limits for the next run: a
 * shared machine's speed drifts by tens of percent over minutes), and the
 * fractions against the better of the two: the conservative ratio. */
int bench_model(const struct model *m, int64_t context, int decode_tokens, struct machine_limits *limits,
                struct bench_run *r, struct hr_error *e);

/* The cost at a longer context, projected from a measured run: each part of
 * the prefill keeps the FLOP rate it ran at (its FLOPs at `context` over that
 * rate; "other" grows with the tokens), and a decode step the bytes per
 * second it read. A projection, not a measurement: softmax attention's rate
 * may move as its share of the work grows. */
struct bench_projection {
    int64_t context, from_context;
    double part_seconds[PART_COUNT];
    double prefill_seconds, decode_step_seconds, niah_sample_seconds;
};
void bench_project(const struct model *m, const struct bench_run *from, int64_t context, struct bench_projection *p);

#endif
