#include "engine/mixers/attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "engine/ops/bf16_gemm.h"
#include "engine/ops/bf16_rows.h"
#include "engine/ops/dtype.h"
#include "engine/ops/exp_row.h"
#include "engine/ops/kernels.h"

/* Prefill attention works on blocks: QB queries against KB keys at a time,
 * scores by GEMM and a running (online) softmax (Milakov & Gimelshein 2018;
 * FlashAttention, Dao et al. 2022), so no [T, T] matrix is ever formed.
 * QB = KB = 512, a whole micro-batch of queries per block: SGEMM packs each
 * key and value block once per 512 queries instead of once per 128, which
 * took prefill attention from 45 % to 59 % of SGEMM peak at 32K tokens
 * (16 heads of 128, 8 KV heads; docs/kernel-measurements.md). */
enum { QB = 512, KB = 512, BLOCKED_MIN_QUERIES = 16 };

/* Decode (one query) splits the visible keys into fixed blocks of DB
 * positions (flash-decoding, Dao et al. 2023): each block is attended on its
 * own and the blocks are merged in order, so the threads read the cache as
 * contiguous rows and the result does not depend on how many there are. */
enum { DB = 256 };

int kv_cache_init(struct kv_cache *c, int window, int kv_heads, int head_dim, bool bf16)
{
    memset(c, 0, sizeof *c);
    c->bf16 = bf16;
    c->window = window;
    c->kv_heads = kv_heads;
    c->head_dim = head_dim;
    return 0;
}

void kv_cache_free(struct kv_cache *c)
{
    free(c->k), free(c->v), free(c->kh), free(c->vh);
    free(c->decode_scratch);
    free(c->batch_kh), free(c->batch_vh);
    c->k = c->v = c->decode_scratch = NULL;
    c->kh = c->vh = c->batch_kh = c->batch_vh = NULL;
    c->slots = c->decode_scratch_floats = c->batch_rows = 0;
}

/* Bytes of one number in the cache. */
static size_t elem_bytes(bool bf16)
{
    return bf16 ? sizeof(uint16_t) : sizeof(float);
}

int64_t kv_cache_bytes_for(int window, int kv_heads, int head_dim, int64_t n, bool bf16)
{
    int64_t slots = window > 0 && window < n ? window : n;
    return 2 * slots * kv_heads * head_dim * (int64_t)elem_bytes(bf16);
}

static int reserve(struct kv_cache *c, int64_t needed)
{
    if (c->window > 0) needed = c->window;
    if (needed <= c->slots) return 0;
    int64_t slots = c->window > 0 ? c->window : (c->slots ? c->slots : 256);
    while (slots < needed) slots *= 2;
    const size_t bytes = (size_t)slots * c->kv_heads * c->head_dim * elem_bytes(c->bf16);
    void *k = realloc(c->bf16 ? (void *)c->kh : (void *)c->k, bytes);
    if (k && c->bf16) c->kh = k;
    if (k && !c->bf16) c->k = k;
    void *v = k ? realloc(c->bf16 ? (void *)c->vh : (void *)c->v, bytes) : NULL;
    if (v && c->bf16) c->vh = v;
    if (v && !c->bf16) c->v = v;
    if (!k || !v) return -1;
    c->slots = slots;
    return 0;
}

/* bf16: the batch's keys and values rounded once into batch_kh, batch_vh,
 * where every query block reads them (and from where they are stored). */
static int round_batch(struct kv_cache *c, const float *k, const float *v, int n)
{
    const int64_t count = (int64_t)n * c->kv_heads * c->head_dim;
    if (n > c->batch_rows) {
        uint16_t *kh = realloc(c->batch_kh, (size_t)count * sizeof *kh);
        if (kh) c->batch_kh = kh;
        uint16_t *vh = kh ? realloc(c->batch_vh, (size_t)count * sizeof *vh) : NULL;
        if (vh) c->batch_vh = vh;
        if (!kh || !vh) return -1;
        c->batch_rows = n;
    }
    bf16_round(k, count, c->batch_kh);
    bf16_round(v, count, c->batch_vh);
    return 0;
}

static inline int64_t slot_of(const struct kv_cache *c, int64_t j)
{
    return c->window > 0 ? j % c->window : j;
}

/* Row of keys (or values) at position j: from the batch when j >= pos0, else
 * from its cache slot. */
static inline const float *kv_row(const struct kv_cache *c, const float *cache, const float *batch, int64_t pos0,
                                  int64_t j)
{
    const int64_t row = (int64_t)c->kv_heads * c->head_dim;
    return j >= pos0 ? batch + (j - pos0) * row : cache + slot_of(c, j) * row;
}

/* max(init, row[a .. z)) with eight running maxima (the loop vectorises;
 * a maximum does not depend on the order it is taken in). */
static float max_row(const float *row, int a, int z, float init)
{
    float lane[8], mx = init;
    for (int l = 0; l < 8; l++) lane[l] = init;
    int j = a;
    for (; j + 8 <= z; j += 8)
        for (int l = 0; l < 8; l++) lane[l] = row[j + l] > lane[l] ? row[j + l] : lane[l];
    for (; j < z; j++) lane[j & 7] = row[j] > lane[j & 7] ? row[j] : lane[j & 7];
    for (int l = 0; l < 8; l++) mx = lane[l] > mx ? lane[l] : mx;
    return mx;
}

/* max(init, row[a .. z) · scale): the largest raw score times the scale,
 * the same float as the largest scaled score (rounding is monotonic and
 * scale > 0), so bf16's scores need no scaling pass of their own. */
static float scaled_max(const float *row, int a, int z, float scale, float init)
{
    const float raw = max_row(row, a, z, -INFINITY), scaled = raw * scale;
    return scaled > init ? scaled : init;
}

/* One query row of the `group` heads that share KV head kvh (GQA): scores,
 * float32 softmax with the max subtracted, weighted sum of values. Each key and
 * value row is read once for the whole group: decode reads the KV cache, and
 * that read, not arithmetic, is its cost. Per head the operations and their
 * order are those of a head alone. scores has room for group × the visible span. */
static void attend_one(const struct kv_cache *c, const float *q, const float *k, const float *v, int64_t pos0,
                       int64_t t, int kvh, int group, float scale, float *scores, float *out)
{
    const int d = c->head_dim;
    const int64_t lo = c->window > 0 && t - c->window + 1 > 0 ? t - c->window + 1 : 0;
    const int64_t span = t - lo + 1;
    float m[64];
    for (int g = 0; g < group; g++) m[g] = -INFINITY;
    for (int64_t j = 0; j < span; j++) {
        const float *kj = kv_row(c, c->k, k, pos0, lo + j) + (int64_t)kvh * d;
        for (int g = 0; g < group; g++) {
            const float s = dot_f32(q + (int64_t)g * d, kj, d) * scale;
            scores[g * span + j] = s;
            if (s > m[g]) m[g] = s;
        }
    }
    float inv[64];
    for (int g = 0; g < group; g++) inv[g] = 1.0f / exp_row(scores + g * span, (int)span, 0, (int)span, m[g]);
    memset(out, 0, (size_t)group * d * sizeof(float));
    for (int64_t j = 0; j < span; j++) {
        const float *vj = kv_row(c, c->v, v, pos0, lo + j) + (int64_t)kvh * d;
        for (int g = 0; g < group; g++) axpy_f32(scores[g * span + j] * inv[g], vj, out + (int64_t)g * d, d);
    }
}

/* One decode block, key rows read one at a time (any cache: a sliding
 * window's ring wraps, so its blocks are not one strided run): scores
 * S [heads, DB], then m, l and the unnormalised outputs O [heads, d]. */
static void decode_block_rows(const struct kv_cache *c, const float *q, const float *k, const float *v, int64_t pos0,
                              int64_t j0, int n, int heads, float scale, float *S, float *O, float *m, float *l)
{
    const int d = c->head_dim, group = heads / c->kv_heads;
    for (int h = 0; h < heads; h++) m[h] = -INFINITY;
    /* Scores: one key row at a time for all heads (each row read once),
     * the heads of a GQA group four at a time (dot4_f32_shared). */
    for (int64_t j = 0; j < n; j++) {
        const float *kj = kv_row(c, c->k, k, pos0, j0 + j);
        for (int h = 0; h < heads;) {
            const float *kh = kj + (int64_t)(h / group) * d;
            float sc[4];
            const int take = group - h % group >= 4 ? 4 : 1;
            if (take == 4)
                dot4_f32_shared(q + (int64_t)h * d, d, kh, d, sc);
            else
                sc[0] = dot_f32(q + (int64_t)h * d, kh, d);
            for (int g = 0; g < take; g++, h++) {
                S[h * DB + j] = sc[g] * scale;
                if (S[h * DB + j] > m[h]) m[h] = S[h * DB + j];
            }
        }
    }
    for (int h = 0; h < heads; h++) l[h] = exp_row(S + h * DB, n, 0, n, m[h]);
    /* Values: o_h = Σ_j p_hj v_j per head, ascending j (weighted_rows_sum). */
    const float *vrows[DB];
    for (int kvh = 0; kvh < c->kv_heads; kvh++) {
        for (int64_t j = 0; j < n; j++) vrows[j] = kv_row(c, c->v, v, pos0, j0 + j) + (int64_t)kvh * d;
        for (int h = kvh * group; h < (kvh + 1) * group; h++)
            weighted_rows_sum(S + h * DB, vrows, n, d, O + (int64_t)h * d);
    }
}

/* One decode block over a full cache (slot = position, the query's own key
 * and value already stored): per KV head two small SGEMMs, the group's query
 * rows against the block's keys read in place (rows kv_heads · d apart) and
 * the probabilities against its values, so that OpenBLAS's vector kernels
 * stream the cache. Same outputs as decode_block_rows up to rounding. */
static void decode_block_gemm(const struct kv_cache *c, const float *q, int64_t j0, int n, int heads, float scale,
                              float *S, float *O, float *m, float *l)
{
    const int d = c->head_dim, group = heads / c->kv_heads, row = c->kv_heads * d;
    for (int kvh = 0; kvh < c->kv_heads; kvh++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, group, n, d, scale, q + (int64_t)kvh * group * d, d,
                    c->k + j0 * row + (int64_t)kvh * d, row, 0.0f, S + (int64_t)kvh * group * DB, DB);
    for (int h = 0; h < heads; h++) {
        m[h] = max_row(S + (int64_t)h * DB, 0, n, -INFINITY);
        l[h] = exp_row(S + (int64_t)h * DB, n, 0, n, m[h]);
    }
    for (int kvh = 0; kvh < c->kv_heads; kvh++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, group, d, n, 1.0f, S + (int64_t)kvh * group * DB, DB,
                    c->v + j0 * row + (int64_t)kvh * d, row, 0.0f, O + (int64_t)kvh * group * d, d);
}

/* Key (or value) block [j0, j0 + bk) of KV head kvh as a matrix for a GEMM:
 * read in place, rows kv_heads · d apart, when it lies in the batch or in a
 * full cache (whose slot is the position); gathered into buf otherwise (a
 * block across the batch's start, or a sliding window's ring). */
static const void *kv_block(const struct kv_cache *c, const void *cache, const void *batch, int64_t pos0, int64_t j0,
                            int bk, int kvh, void *buf, int *ld)
{
    /* Rows of float32 or bfloat16 numbers (the cache's kind), by their bytes. */
    const int64_t d = c->head_dim, row = c->kv_heads * d, e = (int64_t)elem_bytes(c->bf16);
    const char *cached = cache, *batched = batch;
    if (j0 >= pos0 || (c->window == 0 && j0 + bk <= pos0)) {
        *ld = (int)row;
        return (j0 >= pos0 ? batched + (j0 - pos0) * row * e : cached + j0 * row * e) + kvh * d * e;
    }
    for (int j = 0; j < bk; j++) {
        const int64_t p = j0 + j;
        const char *r = p >= pos0 ? batched + (p - pos0) * row * e : cached + slot_of(c, p) * row * e;
        memcpy((char *)buf + j * d * e, r + kvh * d * e, (size_t)(d * e));
    }
    *ld = (int)d;
    return buf;
}

/* A decode block's positions [j0, j0 + n) as runs of consecutive cache
 * slots: one in a full cache (slot = position), two where a sliding window's
 * ring wraps inside the block (at most once: n is at most the window). */
static int slot_runs(const struct kv_cache *c, int64_t j0, int n, int64_t start[2], int len[2])
{
    start[0] = slot_of(c, j0), len[0] = n;
    if (c->window == 0 || start[0] + n <= c->window) return 1;
    len[0] = (int)(c->window - start[0]), start[1] = 0, len[1] = n - len[0];
    return 2;
}

/* One decode block under bf16 compute: every query head's rounded row qh
 * against the block's bf16 keys, the float32 softmax of decode_block_gemm,
 * the probabilities rounded into P, and their products with the values, each
 * a float32 sum of exact bf16 products (bf16_rows.h: one pass over the rows
 * in memory order; oneDNN's matmul per KV head read the cache at half the
 * bandwidth). The query's own row is stored, so every key is a cache row. */
static void decode_block_bf16(const struct kv_cache *c, const uint16_t *qh, int64_t j0, int n, int heads, float scale,
                              float *S, float *O, float *m, float *l, uint16_t *P)
{
    const int d = c->head_dim, group = heads / c->kv_heads;
    const int64_t row = (int64_t)c->kv_heads * d;
    int64_t start[2];
    int len[2];
    const int runs = slot_runs(c, j0, n, start, len);
    for (int r = 0, j = 0; r < runs; j += len[r++])
        bf16_dot_rows(qh, heads, group, d, c->kh + start[r] * row, row, len[r], S + j, DB);
    for (int h = 0; h < heads; h++) { /* the scale after the product (scaled_max) */
        const float *s = S + (int64_t)h * DB;
        m[h] = scaled_max(s, 0, n, scale, -INFINITY);
        l[h] = exp_row_bf16(s, n, 0, n, scale, m[h], P + (int64_t)h * DB);
    }
    memset(O, 0, (size_t)heads * d * sizeof(float));
    for (int r = 0, j = 0; r < runs; j += len[r++])
        bf16_weighted_rows(P + j, DB, heads, group, c->vh + start[r] * row, row, len[r], d, O);
}

/* Decode: the single query at position t = pos0 (its own key and value are
 * the batch's row 0). For a key block B and head h (Milakov & Gimelshein 2018):
 *   m_B = max_{j∈B} s_j,   l_B = Σ_{j∈B} e^{s_j − m_B},   o_B = Σ_{j∈B} e^{s_j − m_B} v_j,
 * with s_j = q_h·k_j · scale; then, blocks in ascending order,
 *   M = max_B m_B,   o = Σ_B e^{m_B − M} o_B / Σ_B e^{m_B − M} l_B.
 * Every (block, head) value is computed by one thread in a fixed order, and the
 * merge is serial: the same bits on any thread count. */
static int attend_decode(struct kv_cache *c, const float *q, const float *k, const float *v, int64_t pos0, int heads,
                         float scale, float *out)
{
    const int d = c->head_dim;
    const int64_t lo = c->window > 0 && pos0 - c->window + 1 > 0 ? pos0 - c->window + 1 : 0;
    const int64_t span = pos0 - lo + 1, blocks = (span + DB - 1) / DB;
    /* Per block: scores [heads, DB], partial outputs [heads, d], m and l
     * [heads]; under bf16 also the rounded probabilities [heads, DB], after
     * the rounded query [heads, d]. */
    const int64_t qh_floats = c->bf16 ? ((int64_t)heads * d + 1) / 2 : 0;
    const int64_t per_block = (int64_t)heads * (DB + d + 2) + (c->bf16 ? (int64_t)heads * DB / 2 : 0);
    if (c->decode_scratch_floats < qh_floats + blocks * per_block) {
        float *grown = realloc(c->decode_scratch, (size_t)(qh_floats + blocks * per_block) * sizeof(float));
        if (!grown) return -1;
        c->decode_scratch = grown;
        c->decode_scratch_floats = qh_floats + blocks * per_block;
    }
    uint16_t *qh = (uint16_t *)c->decode_scratch;
    float *scratch = c->decode_scratch + qh_floats;
    if (c->bf16) bf16_round(q, (int64_t)heads * d, qh);
#pragma omp parallel for schedule(static) if (span > DB)
    for (int64_t b = 0; b < blocks; b++) {
        float *S = scratch + b * per_block, *O = S + (int64_t)heads * DB;
        float *m = O + (int64_t)heads * d, *l = m + heads;
        const int64_t j0 = lo + b * DB, n = span - b * DB < DB ? span - b * DB : DB;
        if (c->bf16) {
            decode_block_bf16(c, qh, j0, (int)n, heads, scale, S, O, m, l, (uint16_t *)(l + heads));
        } else if (c->window == 0) {
            decode_block_gemm(c, q, j0, (int)n, heads, scale, S, O, m, l);
        } else {
            decode_block_rows(c, q, k, v, pos0, j0, (int)n, heads, scale, S, O, m, l);
        }
    }
    for (int h = 0; h < heads; h++) {
        float M = -INFINITY;
        for (int64_t b = 0; b < blocks; b++) {
            const float mb = scratch[b * per_block + (int64_t)heads * (DB + d) + h];
            if (mb > M) M = mb;
        }
        float *oh = out + (int64_t)h * d, L = 0;
        memset(oh, 0, (size_t)d * sizeof(float));
        for (int64_t b = 0; b < blocks; b++) {
            const float *blk = scratch + b * per_block, *Ob = blk + (int64_t)heads * DB;
            const float *mb = Ob + (int64_t)heads * d, *lb = mb + heads;
            const float w = expf(mb[h] - M);
            L += w * lb[h];
            axpy_f32(w, Ob + (int64_t)h * d, oh, d);
        }
        const float inv = 1.0f / L;
        for (int i = 0; i < d; i++) oh[i] *= inv;
    }
    return 0;
}

struct block_scratch {
    float *S;       /* [QB, KB] scores, then probabilities */
    float *Kb, *Vb; /* [KB, d] keys and values gathered when a block is not one strided run */
    float *m, *l;   /* [QB] running max and sum */
    /* bf16 compute only: */
    uint16_t *Qh; /* [QB, d] the query block rounded */
    uint16_t *P;  /* [QB, KB] probabilities rounded */
    float *PV;    /* [QB, d] one key block's Σ p v */
};

/* S [tn, bk] (rows KB apart) = Q Kᵀ for one key block: times the scale
 * under float32 (SGEMM's alpha); under bf16 the float32 sums as they are,
 * the scale applied by the softmax that reads them (exp_row_bf16). */
static void block_scores(const struct kv_cache *c, const float *Q, int ldq, const struct block_scratch *w,
                         const void *K, int ldk, int tn, int bk, float scale)
{
    const int d = c->head_dim;
    if (!c->bf16)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tn, bk, d, scale, Q, ldq, K, ldk, 0.0f, w->S, KB);
    else
        bf16_gemm(tn, bk, d, w->Qh, d, K, 1, ldk, w->S, KB);
}

/* O [tn, d] (rows ldq apart) += P V for one key block: P the float32
 * probabilities in S, or under bf16 the rounded ones in w->P
 * (FlashAttention-2's bf16 P). */
static void block_values(const struct kv_cache *c, const struct block_scratch *w, const void *V, int ldv, int tn,
                         int bk, float *O, int ldq)
{
    const int d = c->head_dim;
    if (!c->bf16) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tn, d, bk, 1.0f, w->S, KB, V, ldv, 1.0f, O, ldq);
        return;
    }
    bf16_gemm(tn, d, bk, w->P, KB, V, ldv, 1, w->PV, d);
    for (int i = 0; i < tn; i++)
        for (int x = 0; x < d; x++) O[(int64_t)i * ldq + x] += w->PV[(int64_t)i * d + x];
}

/* Queries t0 .. t0+tn-1 of head h: out rows = softmax(q Kᵀ · scale) V over the
 * visible keys, one key block at a time in ascending order. */
static void attend_blocked(const struct kv_cache *c, const float *q, const float *k, const float *v, int64_t pos0,
                           int heads, int h, int t0, int tn, float scale, float *out, struct block_scratch *w)
{
    const int d = c->head_dim, group = heads / c->kv_heads, kvh = h / group, ldq = heads * d;
    const int64_t first_pos = pos0 + t0, last_pos = first_pos + tn - 1;
    const int64_t kmin = c->window > 0 && first_pos - c->window + 1 > 0 ? first_pos - c->window + 1 : 0;
    const float *Q = q + (int64_t)t0 * ldq + (int64_t)h * d;
    float *O = out + (int64_t)t0 * ldq + (int64_t)h * d;
    for (int i = 0; i < tn; i++) {
        w->m[i] = -INFINITY;
        w->l[i] = 0;
        memset(O + (int64_t)i * ldq, 0, (size_t)d * sizeof(float));
        if (c->bf16) bf16_round(Q + (int64_t)i * ldq, d, w->Qh + (int64_t)i * d);
    }
    /* The cache's rows and the batch's, in the cache's number format. */
    const void *Kc = c->bf16 ? (const void *)c->kh : c->k, *Vc = c->bf16 ? (const void *)c->vh : c->v;
    const void *Kn = c->bf16 ? (const void *)c->batch_kh : k, *Vn = c->bf16 ? (const void *)c->batch_vh : v;
    for (int64_t j0 = kmin; j0 <= last_pos; j0 += KB) {
        const int bk = (int)(last_pos - j0 + 1 < KB ? last_pos - j0 + 1 : KB);
        int ldk, ldv;
        const void *K = kv_block(c, Kc, Kn, pos0, j0, bk, kvh, w->Kb, &ldk);
        const void *V = kv_block(c, Vc, Vn, pos0, j0, bk, kvh, w->Vb, &ldv);
        block_scores(c, Q, ldq, w, K, ldk, tn, bk, scale);
        for (int i = 0; i < tn; i++) {
            const int64_t p = first_pos + i, lo = c->window > 0 && p - c->window + 1 > 0 ? p - c->window + 1 : 0;
            /* Visible keys of this query in the block: [a, z) (causal, and the window). */
            const int a = lo > j0 ? (int)(lo - j0 < bk ? lo - j0 : bk) : 0;
            const int z = p - j0 + 1 < bk ? (int)(p - j0 + 1 > a ? p - j0 + 1 : a) : bk;
            float *row = w->S + (int64_t)i * KB;
            const float mx = c->bf16 ? scaled_max(row, a, z, scale, w->m[i]) : max_row(row, a, z, w->m[i]);
            /* Rescale what was accumulated under the old maximum. */
            const float alpha = mx == -INFINITY ? 1.0f : exp_nonpos_f32(w->m[i] - mx);
            const float sum =
                c->bf16 ? exp_row_bf16(row, bk, a, z, scale, mx, w->P + (int64_t)i * KB) : exp_row(row, bk, a, z, mx);
            w->l[i] = w->l[i] * alpha + sum;
            w->m[i] = mx;
            if (alpha != 1.0f) {
                float *o = O + (int64_t)i * ldq;
                for (int x = 0; x < d; x++) o[x] *= alpha;
            }
        }
        block_values(c, w, V, ldv, tn, bk, O, ldq);
    }
    for (int i = 0; i < tn; i++) {
        const float inv = 1.0f / w->l[i];
        float *o = O + (int64_t)i * ldq;
        for (int x = 0; x < d; x++) o[x] *= inv;
    }
}

/* The probabilities of one query row (the lens): the same scores and
 * softmax as attend_one, written out instead of applied. Under bf16 the
 * scores are those of the rounded query and the bf16 keys (each product
 * exact, summed in dot_f32's order). */
static void probe_row(const struct kv_cache *c, const float *q, const float *k, int64_t pos0, int heads, float scale,
                      const struct attention_probe *probe)
{
    const int d = c->head_dim, group = heads / c->kv_heads, row = c->kv_heads * d;
    const int64_t t = probe->pos, lo = c->window > 0 && t - c->window + 1 > 0 ? t - c->window + 1 : 0;
    float *qr = malloc(2 * (size_t)d * sizeof(float)), *kr = qr + d; /* bf16 rows widened */
    if (!qr) return; /* the lens is an observer: out of memory leaves its row unwritten */
    for (int h = 0; h < heads; h++) {
        const float *qh = q + ((t - pos0) * heads + h) * d;
        if (c->bf16)
            for (int i = 0; i < d; i++) qr[i] = bf16_to_f32(f32_to_bf16(qh[i]));
        float *out = probe->probs + (int64_t)h * (t + 1), m = -INFINITY;
        for (int64_t j = lo; j <= t; j++) {
            const int64_t off = (int64_t)(h / group) * d;
            if (c->bf16) {
                const uint16_t *kj = (j >= pos0 ? c->batch_kh + (j - pos0) * row : c->kh + slot_of(c, j) * row) + off;
                for (int i = 0; i < d; i++) kr[i] = bf16_to_f32(kj[i]);
                out[j] = dot_f32(qr, kr, d) * scale;
            } else {
                out[j] = dot_f32(qh, kv_row(c, c->k, k, pos0, j) + off, d) * scale;
            }
            if (out[j] > m) m = out[j];
        }
        double sum = 0;
        for (int64_t j = lo; j <= t; j++) sum += (out[j] = expf(out[j] - m));
        for (int64_t j = lo; j <= t; j++) out[j] = (float)(out[j] / sum);
    }
    free(qr);
}

/* Heads of a GQA group attended together by attend_one: at most 64, in
 * slices that divide the group. */
static int group_slice(int group)
{
    int slice = group < 64 ? group : 64;
    while (group % slice) slice--;
    return slice;
}

/* Batches that take the blocked path: long ones, and under bf16 every
 * batch of more than one query (attend_one's scores are float32 only). */
static bool blocked(int n, bool bf16)
{
    return n >= BLOCKED_MIN_QUERIES || (bf16 && n > 1);
}

int64_t attention_workspace_floats(int n, int64_t pos0, int window, int heads, int kv_heads, int head_dim, bool bf16)
{
    if (blocked(n, bf16)) /* block_scratch: S, Kb, Vb, m, l; then Qh, P (2 bytes each) and PV */
        return (int64_t)QB * KB + 2 * (int64_t)KB * head_dim + 2 * QB +
               (bf16 ? (int64_t)QB * head_dim / 2 + (int64_t)QB * KB / 2 + (int64_t)QB * head_dim : 0);
    if (n == 1) return 0; /* decode: the cache's own per-block buffer */
    const int64_t max_span = window > 0 ? window : pos0 + n;
    return group_slice(heads / kv_heads) * max_span;
}

/* Stores the batch's n rows at positions pos0 .. (under bf16 from the rows
 * round_batch made): a full cache keeps every position, a ring only the
 * last W (earlier batch rows would be overwritten anyway). */
static void store_batch(struct kv_cache *c, const float *k, const float *v, int n, int64_t pos0)
{
    const int64_t row = (int64_t)c->kv_heads * c->head_dim;
    int first = c->window > 0 && n > c->window ? n - c->window : 0;
    for (int t = first; t < n; t++) {
        const int64_t slot = slot_of(c, pos0 + t), at = (int64_t)t * row;
        if (c->bf16) {
            memcpy(c->kh + slot * row, c->batch_kh + at, (size_t)row * sizeof(uint16_t));
            memcpy(c->vh + slot * row, c->batch_vh + at, (size_t)row * sizeof(uint16_t));
        } else {
            memcpy(c->k + slot * row, k + at, (size_t)row * sizeof(float));
            memcpy(c->v + slot * row, v + at, (size_t)row * sizeof(float));
        }
    }
}

int attention_forward(struct kv_cache *c, const float *q, const float *k, const float *v, int n, int64_t pos0,
                      int heads, float scale, float *out, const struct attention_probe *probe,
                      const struct workspace *ws)
{
    const int d = c->head_dim, kv_heads = c->kv_heads, group = heads / kv_heads;
    if (reserve(c, pos0 + n) != 0) return -1;
    if (c->bf16 && round_batch(c, k, v, n) != 0) return -1;

    /* Every (query block, head) pair is independent and computed by one
     * thread in a fixed order (OpenBLAS runs single-threaded inside the
     * region), so the result does not depend on the thread count. */
    if (blocked(n, c->bf16)) {
        const int blocks = (n + QB - 1) / QB;
#pragma omp parallel num_threads(workspace_team(ws))
        {
            float *mine = workspace_mine(ws); /* attention_workspace_floats */
            struct block_scratch w = {.S = mine,
                                      .Kb = mine + QB * KB,
                                      .Vb = mine + QB * KB + KB * d,
                                      .m = mine + QB * KB + 2 * KB * d,
                                      .l = mine + QB * KB + 2 * KB * d + QB};
            if (c->bf16) {
                w.Qh = (uint16_t *)(w.l + QB);
                w.P = w.Qh + (int64_t)QB * d;
                w.PV = (float *)(w.P + (int64_t)QB * KB);
            }
#pragma omp for collapse(2) schedule(static)
            for (int h = 0; h < heads; h++)
                for (int b = 0; b < blocks; b++) {
                    const int t0 = b * QB, tn = n - t0 < QB ? n - t0 : QB;
                    attend_blocked(c, q, k, v, pos0, heads, h, t0, tn, scale, out, &w);
                }
        }
    } else if (n == 1) {
        /* The query's own key and value go into the cache first (a ring's slot
         * held pos0 − W, which this query no longer sees): every key it reads
         * is then a cache row. */
        const int64_t row = (int64_t)kv_heads * d, slot = slot_of(c, pos0);
        if (c->bf16) {
            memcpy(c->kh + slot * row, c->batch_kh, (size_t)row * sizeof(uint16_t));
            memcpy(c->vh + slot * row, c->batch_vh, (size_t)row * sizeof(uint16_t));
        } else {
            memcpy(c->k + slot * row, k, (size_t)row * sizeof(float));
            memcpy(c->v + slot * row, v, (size_t)row * sizeof(float));
        }
        if (attend_decode(c, q, k, v, pos0, heads, scale, out) != 0) return -1;
    } else {
        const int slice = group_slice(group);
#pragma omp parallel num_threads(workspace_team(ws))
        {
            float *scores = workspace_mine(ws); /* [slice, max_span]: attention_workspace_floats */
#pragma omp for collapse(2) schedule(static)
            for (int t = 0; t < n; t++)
                for (int h0 = 0; h0 < heads; h0 += slice)
                    attend_one(c, q + ((int64_t)t * heads + h0) * d, k, v, pos0, pos0 + t, h0 / group, slice, scale,
                               scores, out + ((int64_t)t * heads + h0) * d);
        }
    }

    if (probe && probe->pos >= pos0 && probe->pos < pos0 + n) probe_row(c, q, k, pos0, heads, scale, probe);
    if (n > 1) store_batch(c, k, v, n, pos0); /* decode stored its row first */
    return 0;
}

int kv_cache_append(struct kv_cache *c, const float *k, const float *v, int n, int64_t pos0)
{
    if (reserve(c, pos0 + n) != 0 || (c->bf16 && round_batch(c, k, v, n) != 0)) return -1;
    store_batch(c, k, v, n, pos0);
    return 0;
}

void attention_naive(const float *q, const float *k, const float *v, int n, int heads, int kv_heads, int head_dim,
                     int window, float scale, float *out)
{
    const int group = heads / kv_heads;
    double *p = malloc((size_t)n * sizeof(double));
    for (int t = 0; t < n; t++)
        for (int h = 0; h < heads; h++) {
            const float *qh = q + ((int64_t)t * heads + h) * head_dim;
            int lo = window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
            double m = -INFINITY, sum = 0.0;
            for (int j = lo; j <= t; j++) {
                const float *kj = k + ((int64_t)j * kv_heads + h / group) * head_dim;
                double s = 0.0;
                for (int i = 0; i < head_dim; i++) s += (double)qh[i] * kj[i];
                p[j] = s * scale;
                if (p[j] > m) m = p[j];
            }
            for (int j = lo; j <= t; j++) sum += (p[j] = exp(p[j] - m));
            float *oh = out + ((int64_t)t * heads + h) * head_dim;
            for (int i = 0; i < head_dim; i++) {
                double acc = 0.0;
                for (int j = lo; j <= t; j++) acc += p[j] / sum * v[((int64_t)j * kv_heads + h / group) * head_dim + i];
                oh[i] = (float)acc;
            }
        }
    free(p);
}
