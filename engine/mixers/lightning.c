#include "engine/mixers/lightning.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void lightning_naive(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                     float *state, float *out)
{
    double *S = malloc((size_t)dk * dv * sizeof(double));
    for (int h = 0; h < heads; h++) {
        float *Sh = state + (size_t)h * dk * dv;
        for (int i = 0; i < dk * dv; i++) S[i] = Sh[i];
        for (int t = 0; t < T; t++) {
            const float *qt = q + ((size_t)t * heads + h) * dk, *kt = k + ((size_t)t * heads + h) * dk;
            const float *vt = v + ((size_t)t * heads + h) * dv;
            const double decay = exp((double)g[(size_t)t * heads + h]);
            for (int i = 0; i < dk; i++)
                for (int j = 0; j < dv; j++) S[i * dv + j] = decay * S[i * dv + j] + (double)kt[i] * vt[j];
            float *ot = out + ((size_t)t * heads + h) * dv;
            for (int j = 0; j < dv; j++) {
                double acc = 0;
                for (int i = 0; i < dk; i++) acc += (double)qt[i] * S[i * dv + j];
                ot[j] = (float)acc;
            }
        }
        for (int i = 0; i < dk * dv; i++) Sh[i] = (float)S[i];
    }
    free(S);
}

void lightning_step(int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                    float *state, float *out)
{
#pragma omp parallel for schedule(static)
    for (int h = 0; h < heads; h++) {
        float *S = state + (size_t)h * dk * dv;
        const float *qh = q + (size_t)h * dk, *kh = k + (size_t)h * dk, *vh = v + (size_t)h * dv;
        const float decay = expf(g[h]);
        float *oh = out + (size_t)h * dv;
        memset(oh, 0, (size_t)dv * sizeof(float));
        for (int i = 0; i < dk; i++) {
            float *row = S + (size_t)i * dv;
            for (int j = 0; j < dv; j++) row[j] = decay * row[j] + kh[i] * vh[j];
            for (int j = 0; j < dv; j++) oh[j] += qh[i] * row[j];
        }
    }
}

/* One head, one chunk of n ≤ C tokens, with Γ_i = Σ_{s≤i} g_s (cumulative
 * log-decay inside the chunk; only differences of Γ, and Γ itself ≤ 0, are
 * exponentiated, so nothing overflows):
 *   intra  O  = ((Q Kᵀ) ⊙ D) V,   D_ij = e^{Γ_i − Γ_j} for j ≤ i, else 0
 *   inter  O += (Q ⊙ e^{Γ}) S
 *   carry  S  = e^{Γ_{n−1}} S + (K ⊙ e^{Γ_{n−1} − Γ})ᵀ V
 * q, k, v, out point at the chunk's first row of this head; ld* are row strides. */
static void chunk_one_head(int n, int dk, int dv, const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, const float *g, int ldg, float *S, float *out, int ldo, float *scratch, double *G)
{
    float *A = scratch;            /* [n, n] */
    float *Qd = A + (size_t)n * n; /* [n, dk] */
    double acc = 0;
    for (int i = 0; i < n; i++) G[i] = acc += g[(size_t)i * ldg];

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dk, 1.0f, q, ldq, k, ldk, 0.0f, A, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) A[(size_t)i * n + j] = j <= i ? A[(size_t)i * n + j] * (float)exp(G[i] - G[j]) : 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dv, n, 1.0f, A, n, v, ldv, 0.0f, out, ldo);

    for (int i = 0; i < n; i++) {
        const float w = (float)exp(G[i]);
        for (int c = 0; c < dk; c++) Qd[(size_t)i * dk + c] = q[(size_t)i * ldq + c] * w;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dv, dk, 1.0f, Qd, dk, S, dv, 1.0f, out, ldo);

    /* Carry: reuse Qd as K ⊙ e^{Γ_{n−1} − Γ}. */
    for (int i = 0; i < n; i++) {
        const float w = (float)exp(G[n - 1] - G[i]);
        for (int c = 0; c < dk; c++) Qd[(size_t)i * dk + c] = k[(size_t)i * ldk + c] * w;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dk, dv, n, 1.0f, Qd, dk, v, ldv, (float)exp(G[n - 1]), S, dv);
}

int64_t lightning_workspace_floats(int chunk, int dk)
{
    const int64_t C = chunk > 0 ? chunk : LIGHTNING_DEFAULT_CHUNK;
    return 2 * C + C * C + C * dk; /* G (C doubles), then [C, C] and [C, dk] */
}

void lightning_chunked(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                       float *state, float *out, int chunk, const struct workspace *ws)
{
    const int C = chunk > 0 ? chunk : LIGHTNING_DEFAULT_CHUNK;
    /* Heads are independent: one thread owns a head for the whole sequence,
     * and OpenBLAS runs single-threaded inside the parallel region, so the
     * result does not depend on the thread count. */
#pragma omp parallel num_threads(workspace_team(ws))
    {
        double *G = (double *)workspace_mine(ws); /* lightning_workspace_floats */
        float *scratch = (float *)(G + C);
#pragma omp for schedule(static)
        for (int h = 0; h < heads; h++) {
            float *S = state + (size_t)h * dk * dv;
            for (int t0 = 0; t0 < T; t0 += C) {
                const int n = T - t0 < C ? T - t0 : C;
                const size_t row = (size_t)t0 * heads + h;
                chunk_one_head(n, dk, dv, q + row * dk, heads * dk, k + row * dk, heads * dk, v + row * dv, heads * dv,
                               g + row, heads, S, out + row * dv, heads * dv, scratch, G);
            }
        }
    }
}
