/* Decode attention alone: how fast one query reads a long KV cache, as a
 * fraction of this machine's memory bandwidth measured in the same run.
 *
 * A decode step of softmax attention reads every visible key and value once
 * (2 · T · kv_heads · head_dim numbers: float32, or bfloat16 under bf16
 * compute) and does 4 FLOPs per number read, so it is bound by memory, and
 * the fraction of bandwidth it reaches is its figure of merit (issue 26's
 * target: 70 %). `hyrecall bench` reports a whole model's decode, where the
 * weights' read is mixed in; this isolates the cache's read.
 *
 *   bench_decode_attention [CONTEXTS [STEPS]]   default 4096,32768,131072 and 32 steps
 *
 * The shape is HypeNet-2B's and Qwen3-1.7B's attention: 16 query heads of
 * 128, 8 KV heads. The cache is filled with random rows (kv_cache_append, no
 * prefill), then STEPS decode steps at the following positions are timed
 * after one untimed step; the bandwidth (bench_machine's GEMV over 1 GiB) is
 * measured before and after and the better of the two is used. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/base/clock.h"
#include "engine/hyrecall.h"

enum { HEADS = 16, KV_HEADS = 8, HEAD_DIM = 128, FILL_ROWS = 4096 };

static float *random_floats(int64_t count, uint32_t seed)
{
    float *x = malloc((size_t)count * sizeof *x);
    if (!x) return NULL;
    for (int64_t i = 0; i < count; i++)
        x[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    return x;
}

/* Seconds per decode step at context T (best of `steps`, after a warm-up). */
static double decode_step_seconds(int64_t T, int steps, bool bf16, struct workspace *ws)
{
    struct kv_cache c;
    kv_cache_init(&c, 0, KV_HEADS, HEAD_DIM, bf16);
    const int64_t row = (int64_t)KV_HEADS * HEAD_DIM, filled = T - steps - 1;
    float *k = random_floats(FILL_ROWS * row, 1), *v = random_floats(FILL_ROWS * row, 2);
    float *q = random_floats((int64_t)HEADS * HEAD_DIM, 3), *out = malloc((size_t)HEADS * HEAD_DIM * sizeof *out);
    if (!k || !v || !q || !out) {
        fprintf(stderr, "bench_decode_attention: out of memory\n");
        exit(1);
    }
    for (int64_t p = 0; p < filled; p += FILL_ROWS) {
        const int n = filled - p < FILL_ROWS ? (int)(filled - p) : FILL_ROWS;
        if (kv_cache_append(&c, k, v, n, p) != 0) {
            fprintf(stderr, "bench_decode_attention: out of memory for a %lld-position cache\n", (long long)T);
            exit(1);
        }
    }
    const float scale = 1.0f / sqrtf((float)HEAD_DIM);
    double best = 1e30;
    for (int s = 0; s <= steps; s++) {
        const double t0 = clock_seconds();
        if (attention_forward(&c, q, k + s * row, v + s * row, 1, filled + s, HEADS, scale, out, NULL, ws) != 0) {
            fprintf(stderr, "bench_decode_attention: out of memory\n");
            exit(1);
        }
        const double dt = clock_seconds() - t0;
        if (s > 0 && dt < best) best = dt;
    }
    kv_cache_free(&c);
    free(k), free(v), free(q), free(out);
    return best;
}

static int64_t parse_context(const char *s)
{
    char *end;
    const double x = strtod(s, &end);
    const double unit = *end == 'k' || *end == 'K' ? 1024 : 1;
    return (int64_t)(x * unit);
}

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    const char *contexts = argc > 1 ? argv[1] : "4096,32768,131072";
    const int steps = argc > 2 ? atoi(argv[2]) : 32;
    struct hr_error e;
    if (steps < 1 || linear_set_compute(COMPUTE_BF16, &e) != 0) {
        fprintf(stderr, "usage: bench_decode_attention [CONTEXTS [STEPS]] (oneDNN must start: %s)\n",
                steps < 1 ? "-" : e.msg);
        return 2;
    }
    struct workspace ws = {0};
    struct machine_limits before, after;
    bench_machine(&before);
    printf("decode attention, %d heads of %d, %d KV heads, %d threads, OpenBLAS core %s, oneDNN %s\n", HEADS, HEAD_DIM,
           KV_HEADS, cpu_threads(), cpu_openblas_core(), bf16_gemm_isa());
    struct result {
        int64_t T;
        double seconds[2];
    } results[16];
    int count = 0;
    char *list = strdup(contexts);
    for (char *tok = strtok(list, ","); tok && count < 16; tok = strtok(NULL, ",")) {
        const int64_t T = parse_context(tok);
        if (T <= steps + 1) continue;
        results[count].T = T;
        for (int b = 0; b < 2; b++) results[count].seconds[b] = decode_step_seconds(T, steps, b == 1, &ws);
        count++;
    }
    free(list);
    bench_machine(&after);
    const double gbs = before.stream_gbs > after.stream_gbs ? before.stream_gbs : after.stream_gbs;
    printf("bandwidth %.1f GB/s (GEMV over 1 GiB, best of before %.1f / after %.1f)\n", gbs, before.stream_gbs,
           after.stream_gbs);
    printf("%9s  %-5s  %10s  %9s  %8s\n", "context", "cache", "ms/step", "GB/s", "of bw");
    for (int i = 0; i < count; i++)
        for (int b = 0; b < 2; b++) {
            const double bytes = 2.0 * (double)results[i].T * KV_HEADS * HEAD_DIM * (b ? 2.0 : 4.0);
            const double rate = bytes / results[i].seconds[b] / 1e9;
            printf("%9lld  %-5s  %10.3f  %9.1f  %7.1f%%\n", (long long)results[i].T, b ? "bf16" : "f32",
                   results[i].seconds[b] * 1e3, rate, 100.0 * rate / gbs);
        }
    workspace_free(&ws);
    return 0;
}
