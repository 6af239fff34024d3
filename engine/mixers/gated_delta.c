#include "engine/mixers/gated_delta.h"

#include "engine/ops/subnormals.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void gated_delta_naive(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                       const float *beta, float *state, float *out)
{
    double *S = malloc((size_t)dk * dv * sizeof(double)), *u = malloc((size_t)dv * sizeof(double));
    for (int h = 0; h < heads; h++) {
        float *Sh = state + (size_t)h * dk * dv;
        for (int i = 0; i < dk * dv; i++) S[i] = Sh[i];
        for (int t = 0; t < T; t++) {
            const size_t r = (size_t)t * heads + h;
            const float *qt = q + r * dk, *kt = k + r * dk, *vt = v + r * dv;
            const double decay = exp((double)g[r]), b = beta[r];
            for (int i = 0; i < dk * dv; i++) S[i] *= decay;
            for (int j = 0; j < dv; j++) {
                double pred = 0;
                for (int i = 0; i < dk; i++) pred += S[i * dv + j] * kt[i];
                u[j] = b * (vt[j] - pred);
            }
            for (int i = 0; i < dk; i++)
                for (int j = 0; j < dv; j++) S[i * dv + j] += (double)kt[i] * u[j];
            for (int j = 0; j < dv; j++) {
                double acc = 0;
                for (int i = 0; i < dk; i++) acc += (double)qt[i] * S[i * dv + j];
                out[r * dv + j] = (float)acc;
            }
        }
        for (int i = 0; i < dk * dv; i++) Sh[i] = (float)S[i];
    }
    free(S);
    free(u);
}

/* Columns of the state are independent in the delta rule (u_j reads only
 * column j of S), so the step walks them in tiles with the correction u on the
 * stack: no allocation per token, and per element the same operations in the
 * same order as an untiled loop. */
enum { STEP_TILE = 256 };

void gated_delta_step(int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                      const float *beta, float *state, float *out)
{
#pragma omp parallel
    {
        const fp_mode saved = subnormals_flush_begin(); /* see subnormals.h */
#pragma omp for schedule(static)
        for (int h = 0; h < heads; h++) {
            float *S = state + (size_t)h * dk * dv;
            const float *qh = q + (size_t)h * dk, *kh = k + (size_t)h * dk, *vh = v + (size_t)h * dv;
            const float decay = expf(g[h]);
            for (int i = 0; i < dk * dv; i++) S[i] *= decay;
            float *oh = out + (size_t)h * dv;
            for (int j0 = 0; j0 < dv; j0 += STEP_TILE) {
                const int jn = dv - j0 < STEP_TILE ? dv - j0 : STEP_TILE;
                float u[STEP_TILE];
                for (int j = 0; j < jn; j++) u[j] = 0;
                for (int i = 0; i < dk; i++)
                    for (int j = 0; j < jn; j++) u[j] += S[(size_t)i * dv + j0 + j] * kh[i];
                for (int j = 0; j < jn; j++) u[j] = beta[h] * (vh[j0 + j] - u[j]);
                memset(oh + j0, 0, (size_t)jn * sizeof(float));
                for (int i = 0; i < dk; i++) {
                    float *row = S + (size_t)i * dv + j0;
                    for (int j = 0; j < jn; j++) row[j] += kh[i] * u[j];
                    for (int j = 0; j < jn; j++) oh[j0 + j] += qh[i] * row[j];
                }
            }
        }
        subnormals_flush_end(saved);
    }
}

struct chunk_scratch {
    float *A;  /* [C, C] */
    float *Kb; /* [C, dk]: β ⊙ K, then β e^{Γ} ⊙ K */
    float *Vb; /* [C, dv]: β ⊙ V */
    float *W;  /* [C, dk] */
    float *U;  /* [C, dv], becomes V' */
    float *X;  /* [C, max(dk, dv)] */
    double *G; /* [C] */
};

/* One head, one chunk of n tokens (the WY representation, as transformers'
 * torch_chunk_gated_delta_rule). Γ_i = Σ_{s≤i} g_s, D_ij = e^{Γ_i − Γ_j}:
 *   A   = −(K_β Kᵀ) ⊙ D, strictly lower triangular
 *   T   = (I − A)⁻¹ by forward substitution (the "UT transform")
 *   U   = T V_β,   W = T (K_β ⊙ e^{Γ})
 *   V'  = U − W S                        (the deltas, given the incoming state)
 *   O   = (Q ⊙ e^{Γ}) S + ((Q Kᵀ) ⊙ D, j ≤ i) V'
 *   S   = e^{Γ_{n−1}} S + (K ⊙ e^{Γ_{n−1} − Γ})ᵀ V' */
static void chunk_one_head(int n, int dk, int dv, const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, const float *g, const float *beta, int ldg, float *S, float *out, int ldo,
                           const struct chunk_scratch *w)
{
    double *G = w->G, acc = 0;
    for (int i = 0; i < n; i++) G[i] = acc += g[(size_t)i * ldg];
    for (int i = 0; i < n; i++) {
        const float b = beta[(size_t)i * ldg];
        for (int c = 0; c < dk; c++) w->Kb[(size_t)i * dk + c] = k[(size_t)i * ldk + c] * b;
        for (int c = 0; c < dv; c++) w->Vb[(size_t)i * dv + c] = v[(size_t)i * ldv + c] * b;
    }
    /* A = −(K_β Kᵀ) ⊙ D below the diagonal. */
    float *A = w->A;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dk, -1.0f, w->Kb, dk, k, ldk, 0.0f, A, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) A[(size_t)i * n + j] = j < i ? A[(size_t)i * n + j] * (float)exp(G[i] - G[j]) : 0;
    /* Forward substitution: row i of T = row i of A + Σ_{m<i} A_im T_m (rows m < i final). */
    for (int i = 1; i < n; i++) {
        float *Ai = A + (size_t)i * n;
        float *tmp = w->X; /* new row, first i entries */
        for (int j = 0; j < i; j++) {
            float s = Ai[j];
            for (int m = j + 1; m < i; m++) s += Ai[m] * A[(size_t)m * n + j];
            tmp[j] = s;
        }
        memcpy(Ai, tmp, (size_t)i * sizeof(float));
    }
    for (int i = 0; i < n; i++) A[(size_t)i * n + i] = 1.0f;

    /* U = T V_β; W = T (K_β ⊙ e^{Γ}). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dv, n, 1.0f, A, n, w->Vb, dv, 0.0f, w->U, dv);
    for (int i = 0; i < n; i++) {
        const float e = (float)exp(G[i]);
        for (int c = 0; c < dk; c++) w->Kb[(size_t)i * dk + c] *= e;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dk, n, 1.0f, A, n, w->Kb, dk, 0.0f, w->W, dk);
    /* V' = U − W S. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dv, dk, -1.0f, w->W, dk, S, dv, 1.0f, w->U, dv);

    /* O = (Q ⊙ e^{Γ}) S + ((Q Kᵀ) ⊙ D) V'. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dk, 1.0f, q, ldq, k, ldk, 0.0f, A, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) A[(size_t)i * n + j] = j <= i ? A[(size_t)i * n + j] * (float)exp(G[i] - G[j]) : 0;
    for (int i = 0; i < n; i++) {
        const float e = (float)exp(G[i]);
        for (int c = 0; c < dk; c++) w->X[(size_t)i * dk + c] = q[(size_t)i * ldq + c] * e;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dv, dk, 1.0f, w->X, dk, S, dv, 0.0f, out, ldo);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dv, n, 1.0f, A, n, w->U, dv, 1.0f, out, ldo);

    /* S = e^{Γ_{n−1}} S + (K ⊙ e^{Γ_{n−1} − Γ})ᵀ V'. */
    for (int i = 0; i < n; i++) {
        const float e = (float)exp(G[n - 1] - G[i]);
        for (int c = 0; c < dk; c++) w->X[(size_t)i * dk + c] = k[(size_t)i * ldk + c] * e;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dk, dv, n, 1.0f, w->X, dk, w->U, dv, (float)exp(G[n - 1]), S,
                dv);
}

/* The widest row of chunk_one_head's X buffer. */
static int64_t x_width(int C, int dk, int dv)
{
    const int64_t d = dk > dv ? dk : dv;
    return d > C ? d : C;
}

int64_t gated_delta_workspace_floats(int chunk, int dk, int dv)
{
    const int64_t C = chunk > 0 ? chunk : GATED_DELTA_DEFAULT_CHUNK;
    /* G (C doubles), then A [C, C], Kb and W [C, dk], Vb and U [C, dv], X [C, x_width]. */
    return 2 * C + C * C + 2 * C * dk + 2 * C * dv + C * x_width((int)C, dk, dv);
}

void gated_delta_chunked(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v,
                         const float *g, const float *beta, float *state, float *out, int chunk,
                         const struct workspace *ws)
{
    const int C = chunk > 0 ? chunk : GATED_DELTA_DEFAULT_CHUNK;
    /* One thread owns a head for the whole sequence; OpenBLAS runs single-
     * threaded inside the parallel region: results independent of threads.
     * Subnormals flushed on every thread (subnormals.h). */
#pragma omp parallel num_threads(workspace_team(ws))
    {
        const fp_mode saved = subnormals_flush_begin();
        double *G = (double *)workspace_mine(ws); /* gated_delta_workspace_floats */
        float *A = (float *)(G + C), *Kb = A + C * C, *Vb = Kb + C * dk, *W = Vb + C * dv, *U = W + C * dk;
        struct chunk_scratch w = {.A = A, .Kb = Kb, .Vb = Vb, .W = W, .U = U, .X = U + C * dv, .G = G};
#pragma omp for schedule(static)
        for (int h = 0; h < heads; h++) {
            float *S = state + (size_t)h * dk * dv;
            for (int t0 = 0; t0 < T; t0 += C) {
                const int n = T - t0 < C ? T - t0 : C;
                const size_t row = (size_t)t0 * heads + h;
                chunk_one_head(n, dk, dv, q + row * dk, heads * dk, k + row * dk, heads * dk, v + row * dv, heads * dv,
                               g + row, beta + row, heads, S, out + row * dv, heads * dv, &w);
            }
        }
        subnormals_flush_end(saved);
    }
}
