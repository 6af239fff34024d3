/* Linear-attention mixers: chunked == naive == step, for lengths around the
 * chunk size and chunk sizes 16 … 128 (chunk-size invariance), and a long
 * prefill with strong decays that must stay finite and match the step form.
 *
 *   test_mixers            the standard sweep (T up to 4096)
 *   test_mixers --long N   also the N-token strong-decay prefill (65536 in ctest) */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mixers/gated_delta.h"
#include "engine/mixers/lightning.h"
#include "engine/ops/causal_conv.h"
#include "tests/test_util.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0) - 1.0f;
}

struct inputs {
    int T, H, dk, dv;
    float *q, *k, *v, *g, *beta;
};

/* Real checkpoints feed L2-normalised q and k to the delta rule; lightning
 * layers see SiLU-activated projections. g in [g_min, g_max]. */
static struct inputs make_inputs(int T, int H, int dk, int dv, float g_min, float g_max, bool l2norm)
{
    struct inputs in = {T, H, dk, dv, NULL, NULL, NULL, NULL, NULL};
    size_t nk = (size_t)T * H * dk, nv = (size_t)T * H * dv, ng = (size_t)T * H;
    in.q = malloc(nk * 4), in.k = malloc(nk * 4), in.v = malloc(nv * 4), in.g = malloc(ng * 4),
    in.beta = malloc(ng * 4);
    for (size_t i = 0; i < nk; i++) in.q[i] = frand(), in.k[i] = frand();
    for (size_t i = 0; i < nv; i++) in.v[i] = frand();
    for (size_t i = 0; i < ng; i++) {
        in.g[i] = g_min + (g_max - g_min) * 0.5f * (frand() + 1.0f);
        in.beta[i] = 0.5f * (frand() + 1.0f);
    }
    if (l2norm)
        for (size_t r = 0; r < (size_t)T * H; r++) {
            float *vecs[2] = {in.q + r * dk, in.k + r * dk};
            for (int w = 0; w < 2; w++) {
                double ss = 0;
                for (int i = 0; i < dk; i++) ss += (double)vecs[w][i] * vecs[w][i];
                for (int i = 0; i < dk; i++) vecs[w][i] = (float)(vecs[w][i] / sqrt(ss + 1e-6) / (w ? 1 : sqrt(dk)));
            }
        }
    return in;
}

static void free_inputs(struct inputs *in)
{
    free(in->q), free(in->k), free(in->v), free(in->g), free(in->beta);
}

/* Relative max error: max |a − b| / max |b|. */
static double rel(const float *a, const float *b, size_t n)
{
    double m = max_abs(b, (int64_t)n);
    return max_abs_diff(a, b, (int64_t)n) / (m > 0 ? m : 1);
}

enum form { NAIVE, CHUNKED, STEP };

static void run(bool delta, enum form f, const struct inputs *in, int chunk, float *state, float *out)
{
    const int T = in->T, H = in->H, dk = in->dk, dv = in->dv;
    if (f == STEP) {
        for (int t = 0; t < T; t++) {
            size_t r = (size_t)t * H;
            if (delta)
                gated_delta_step(H, dk, dv, in->q + r * dk, in->k + r * dk, in->v + r * dv, in->g + r, in->beta + r,
                                 state, out + r * dv);
            else
                lightning_step(H, dk, dv, in->q + r * dk, in->k + r * dk, in->v + r * dv, in->g + r, state,
                               out + r * dv);
        }
    } else if (f == NAIVE) {
        if (delta)
            gated_delta_naive(T, H, dk, dv, in->q, in->k, in->v, in->g, in->beta, state, out);
        else
            lightning_naive(T, H, dk, dv, in->q, in->k, in->v, in->g, state, out);
    } else {
        /* The kernels' scratch, reserved by the caller as the session does. */
        struct workspace ws = {0};
        const int64_t floats =
            delta ? gated_delta_workspace_floats(chunk, dk, dv) : lightning_workspace_floats(chunk, dk);
        if (workspace_reserve(&ws, omp_get_max_threads(), floats)) abort();
        if (delta)
            gated_delta_chunked(T, H, dk, dv, in->q, in->k, in->v, in->g, in->beta, state, out, chunk, &ws);
        else
            lightning_chunked(T, H, dk, dv, in->q, in->k, in->v, in->g, state, out, chunk, &ws);
        workspace_free(&ws);
    }
}

static void compare(bool delta, int T, float g_min, float g_max, const int *chunks, int nchunks, double tol, int dv)
{
    const int H = 3, dk = 16;
    struct inputs in = make_inputs(T, H, dk, dv, g_min, g_max, delta);
    size_t no = (size_t)T * H * dv, ns = (size_t)H * dk * dv;
    float *ref = malloc(no * 4), *out = malloc(no * 4), *s_ref = calloc(ns, 4), *s = calloc(ns, 4);
    /* A non-zero incoming state: the mixers must carry it, not assume zero. */
    for (size_t i = 0; i < ns; i++) s_ref[i] = 0.1f * frand();
    float *s0 = malloc(ns * 4);
    memcpy(s0, s_ref, ns * 4);
    run(delta, NAIVE, &in, 0, s_ref, ref);

    double worst = 0;
    memcpy(s, s0, ns * 4);
    run(delta, STEP, &in, 0, s, out);
    double e_out = rel(out, ref, no), e_state = rel(s, s_ref, ns);
    worst = fmax(worst, fmax(e_out, e_state));
    CHECK(e_out <= tol && e_state <= tol, "%s step T=%d: out %.2g state %.2g", delta ? "delta" : "lightning", T, e_out,
          e_state);
    for (int c = 0; c < nchunks; c++) {
        memcpy(s, s0, ns * 4);
        run(delta, CHUNKED, &in, chunks[c], s, out);
        e_out = rel(out, ref, no), e_state = rel(s, s_ref, ns);
        worst = fmax(worst, fmax(e_out, e_state));
        CHECK(e_out <= tol && e_state <= tol, "%s chunked C=%d T=%d: out %.2g state %.2g",
              delta ? "delta" : "lightning", chunks[c], T, e_out, e_state);
    }
    printf("  %-9s T=%5d d_v=%3d g in [%g, %g]: step and chunked (C=16..128) vs naive, max rel err %.2g\n",
           delta ? "delta" : "lightning", T, dv, g_min, g_max, worst);
    free(ref), free(out), free(s_ref), free(s), free(s0);
    free_inputs(&in);
}

/* Strong decays over a long prefill: chunked must stay finite and agree with
 * the step form (the naive double form would take minutes at this length). */
static void long_prefill(bool delta, int T)
{
    const int H = 2, dk = 16, dv = 16;
    /* g = −exp(A_log)·softplus(a + dt_bias) reaches about −20 in real
     * checkpoints; lightning decays reach −s with s up to 8/heads·... ≈ −1. */
    struct inputs in = make_inputs(T, H, dk, dv, -20.0f, -0.001f, delta);
    size_t no = (size_t)T * H * dv, ns = (size_t)H * dk * dv;
    float *a = malloc(no * 4), *b = malloc(no * 4), *sa = calloc(ns, 4), *sb = calloc(ns, 4);
    run(delta, CHUNKED, &in, 64, sa, a);
    run(delta, STEP, &in, 0, sb, b);
    bool finite = true;
    for (size_t i = 0; i < no; i++) finite &= isfinite(a[i]);
    double e = rel(a, b, no), es = rel(sa, sb, ns);
    printf("  %-9s T=%d strong decays: finite %s, chunked vs step max rel err %.2g (state %.2g)\n",
           delta ? "delta" : "lightning", T, finite ? "yes" : "NO", e, es);
    CHECK(finite, "non-finite output in the long prefill");
    CHECK(e <= 1e-4 && es <= 1e-4, "long prefill: chunked vs step %.2g / %.2g", e, es);
    free(a), free(b), free(sa), free(sb);
    free_inputs(&in);
}

/* The causal convolution, static (Qwen3-Next) and dynamic (Jet-Nemotron, a
 * kernel per token), fed in pieces (prefill, then single decode steps, uneven
 * splits) equals the plain formula over the whole sequence with zero history. */
static void causal_conv_pieces(bool dynamic)
{
    enum { T = 50, C = 7, K = 4 };
    static float x[T * C], w[T * C * K], ref[T * C], out[T * C];
    float tail[(K - 1) * C] = {0};
    const size_t stride = dynamic ? C * K : 0;
    for (int i = 0; i < T * C; i++) x[i] = frand();
    for (int i = 0; i < T * C * K; i++) w[i] = frand();
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int j = 0; j < K; j++)
                if (t - (K - 1) + j >= 0) acc += (double)w[t * stride + c * K + j] * x[(t - (K - 1) + j) * C + c];
            ref[t * C + c] = (float)acc;
        }
    const int pieces[] = {1, 2, 13, 1, 1, 5, 27};
    for (int p = 0, t = 0; t < T; p++) {
        int n = pieces[p % 7] < T - t ? pieces[p % 7] : T - t;
        causal_conv_forward(x + t * C, n, C, K, w + t * stride, stride, tail, out + t * C);
        t += n;
    }
    double e = max_abs_diff(out, ref, T * C);
    printf("  %s conv in pieces 1,2,13,1,1,5,27 (prefill + steps) vs whole-sequence formula: max |diff| %.2g\n",
           dynamic ? "dynamic" : "static ", e);
    CHECK(e <= 1e-6, "causal conv pieces differ by %g", e);
}

/* The kernels flush subnormals on their own threads only (subnormals.h): on
 * return the caller computes with subnormals again. */
static void subnormal_mode_restored(void)
{
    struct inputs in = make_inputs(100, 3, 16, 24, -20.0f, -10.0f, true);
    float *s = calloc(3 * 16 * 24, 4), *out = malloc(100 * 3 * 24 * 4);
    run(true, CHUNKED, &in, 64, s, out);
    run(true, STEP, &in, 0, s, out);
    volatile float tiny = 1e-30f, scale = 1e-10f;
    const float product = tiny * scale; /* 1e-40: subnormal, zero if flushed */
    printf("  after the delta kernels the caller still has subnormals: 1e-30 * 1e-10 = %g\n", product);
    CHECK(product != 0.0f, "the kernels left flush-to-zero on in the calling thread");
    free(s), free(out);
    free_inputs(&in);
}

int main(int argc, char **argv)
{
    subnormal_mode_restored();
    causal_conv_pieces(false);
    causal_conv_pieces(true);
    const int chunks[] = {16, 32, 64, 128};
    const int C = 64, lengths[] = {1, C - 1, C, C + 1, 3 * C + 17, 4096};
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++)
            compare(d, lengths[i], -0.5f, -0.001f, chunks, 4, 1e-4, 24);
        compare(d, 300, -8.0f, -2.0f, chunks, 4, 1e-4, 24);   /* strong decays */
        compare(d, 300, 0.0f, 0.0f, chunks, 4, 1e-4, 24);     /* no decay at all */
        compare(d, 70, -0.5f, -0.001f, chunks, 4, 1e-4, 300); /* d_v over the step's 256-column tile */
    }
    if (argc > 2 && strcmp(argv[1], "--long") == 0) {
        long_prefill(false, atoi(argv[2]));
        long_prefill(true, atoi(argv[2]));
    }
    return test_finish("test_mixers");
}
