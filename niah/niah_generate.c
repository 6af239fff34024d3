#include "niah/niah_generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niah/pyrandom.h"
#include "stb_ds.h"
#include "tokenizer/tokenizer.h"

const int NIAH_DEPTHS[40] = {0,  3,  5,  8,  10, 13, 15, 18, 21, 23, 26, 28, 31, 33, 36, 38, 41, 44, 46, 49,
                             51, 54, 56, 59, 62, 64, 67, 69, 72, 74, 77, 79, 82, 85, 87, 90, 92, 95, 97, 100};

/* A growable string (stb_ds char array). */
static void put(char **s, const char *text, size_t n)
{
    const ptrdiff_t len = arrlen(*s);
    arrsetlen(*s, len + (ptrdiff_t)n);
    memcpy(*s + len, text, n);
}
static void puts_(char **s, const char *text)
{
    put(s, text, strlen(text));
}

struct generator {
    const struct niah_request *rq;
    const struct niah_sources *src;
    struct pyrandom rng;
    char *template; /* wrapper + task template + answer prefix; {context}, {query} left */
    int num_keys;
};

/* generate_random(type): the next key or value. */
static void draw(struct generator *g, enum niah_kind kind, char *out)
{
    if (kind == KIND_NUMBERS)
        snprintf(out, 64, "%lld", (long long)pyr_randint(&g->rng, 1000000, 9999999));
    else if (kind == KIND_UUIDS)
        pyr_uuid4(&g->rng, out);
    else
        word_keys_at(g->src->words, (int64_t)pyr_randbelow(&g->rng, (uint64_t)word_keys_count(g->src->words)), out,
                     256);
}

struct needle {
    int key, value; /* which key and which of its values */
    char text[640];
};

/* template.format(context=..., query=...) in one pass. */
static char *format_prompt(const char *tmpl, const char *context, size_t context_len, const char *query)
{
    char *out = NULL;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{context}", 9) == 0)
            put(&out, context, context_len), p += 9;
        else if (strncmp(p, "{query}", 7) == 0)
            puts_(&out, query), p += 7;
        else
            put(&out, p++, 1);
    }
    arrput(out, '\0');
    char *s = strdup(out);
    arrfree(out);
    return s;
}

/* The essay context: num_haystack words (the corpus repeated as needed) cut
 * into sentences, needles inserted at sentence boundaries. depth < 0: RULER's
 * sample(DEPTHS, n); else every needle at that depth. Returns the depth of
 * each needle (placement order) in needle_depth. */
static void essay_context(struct generator *g, int64_t n, int depth, struct needle *needles, int k, char **ctx,
                          double *needle_depth)
{
    const struct essay *es = g->src->essay;
    /* Sentence starts, as word indices (cyclic over the corpus). */
    int64_t *starts = NULL;
    arrput(starts, 0);
    for (int64_t i = 0; i + 1 < n; i++)
        if (es->ends_sentence[i % es->num_words]) arrput(starts, i + 1);
    const int64_t n_sents = arrlen(starts);
    arrput(starts, n); /* sentinel: the end */

    /* insertion_positions = [0] + sorted(int(n_sents * (d / 100)) for d in sample(DEPTHS, k)) + [n_sents] */
    struct {
        int64_t pos;
        int depth;
    } slot[16];
    int64_t picks[16];
    if (depth < 0) pyr_sample_indices(&g->rng, 40, k, picks);
    for (int i = 0; i < k; i++) {
        int d = depth < 0 ? NIAH_DEPTHS[picks[i]] : depth;
        slot[i].pos = (int64_t)((double)n_sents * ((double)d / 100.0));
        slot[i].depth = d;
    }
    for (int i = 1; i < k; i++) /* stable insertion sort by position */
        for (int j = i; j > 0 && slot[j - 1].pos > slot[j].pos; j--) {
            __typeof__(slot[0]) t = slot[j];
            slot[j] = slot[j - 1], slot[j - 1] = t;
        }
    /* " ".join(chunk_0, needle_0, chunk_1, ..., needle_{k-1}, chunk_k) */
    int64_t last = 0;
    for (int i = 0; i <= k; i++) {
        int64_t next = i < k ? slot[i].pos : n_sents;
        for (int64_t w = starts[last]; w < starts[next]; w++) {
            if (w > starts[last]) puts_(ctx, " ");
            puts_(ctx, es->words[w % es->num_words]);
        }
        if (i < k) {
            puts_(ctx, " ");
            puts_(ctx, needles[i].text);
            needle_depth[i] = slot[i].depth;
            puts_(ctx, " ");
        }
        last = next;
    }
    arrfree(starts);
}

/* Noise and needle haystacks: num_haystack lines, needles inserted before
 * list positions sorted(sample(range(n), k), reverse=True), joined by "\n". */
static void line_context(struct generator *g, int64_t n, int depth, struct needle *needles, int k, char **ctx,
                         double *needle_depth)
{
    const struct niah_task *t = g->rq->task;
    char **lines = NULL; /* stb_ds array of owned or borrowed strings */
    bool *owned = NULL;
    for (int64_t i = 0; i < n; i++) {
        if (t->haystack == HAYSTACK_NOISE) {
            arrput(lines, (char *)NIAH_NOISE);
            arrput(owned, false);
        } else { /* a distractor needle: key drawn before value */
            char key[256], value[256], *line = malloc(640);
            draw(g, t->key_kind, key);
            draw(g, t->value_kind, value);
            snprintf(line, 640, NIAH_NEEDLE, niah_kind_plural(t->value_kind), key, value);
            arrput(lines, line);
            arrput(owned, true);
        }
    }
    int64_t idx[16];
    if (depth < 0) {
        pyr_sample_indices(&g->rng, n, k, idx);
        for (int i = 1; i < k; i++) /* sorted descending */
            for (int j = i; j > 0 && idx[j - 1] < idx[j]; j--) {
                int64_t tmp = idx[j];
                idx[j] = idx[j - 1], idx[j - 1] = tmp;
            }
    } else {
        for (int i = 0; i < k; i++) idx[i] = (int64_t)((double)n * ((double)depth / 100.0));
    }
    for (int i = 0; i < k; i++) { /* list.insert(index, needle) */
        arrput(lines, NULL);
        arrput(owned, false);
        const ptrdiff_t len = arrlen(lines), at = (ptrdiff_t)idx[i];
        memmove(&lines[at + 1], &lines[at], (size_t)(len - 1 - at) * sizeof *lines);
        memmove(&owned[at + 1], &owned[at], (size_t)(len - 1 - at) * sizeof *owned);
        lines[at] = needles[i].text;
        owned[at] = false;
        needle_depth[i] = n ? 100.0 * (double)idx[i] / (double)n : 0;
    }
    for (ptrdiff_t i = 0; i < arrlen(lines); i++) {
        if (i) puts_(ctx, "\n");
        puts_(ctx, lines[i]);
    }
    for (ptrdiff_t i = 0; i < arrlen(lines); i++)
        if (owned[i]) free(lines[i]);
    arrfree(lines);
    arrfree(owned);
}

/* generate_input_output(num_haystack): one sample, in RULER's draw order. */
static int generate_one(struct generator *g, int64_t num_haystack, int depth, struct niah_sample *s, struct hr_error *e)
{
    const struct niah_task *t = g->rq->task;
    const int K = g->num_keys, V = t->num_values, k = K * V;
    char keys[8][256], values[8][4][256];
    struct needle needles[16];
    for (int i = 0; i < K; i++) {
        draw(g, t->key_kind, keys[i]);
        for (int j = 0; j < V; j++) {
            draw(g, t->value_kind, values[i][j]);
            struct needle *nd = &needles[i * V + j];
            nd->key = i, nd->value = j;
            snprintf(nd->text, sizeof nd->text, NIAH_NEEDLE, niah_kind_plural(t->value_kind), keys[i], values[i][j]);
        }
    }
    /* random.Random(seed).shuffle(needles): a fresh generator, the same permutation every time. */
    struct pyrandom shuffle_rng;
    pyr_seed(&shuffle_rng, g->rq->seed);
    int64_t perm[16];
    for (int i = 0; i < k; i++) perm[i] = i;
    pyr_shuffle(&shuffle_rng, perm, k);
    struct needle placed[16];
    for (int i = 0; i < k; i++) placed[i] = needles[perm[i]];

    char *ctx = NULL;
    double needle_depth[16];
    if (t->haystack == HAYSTACK_ESSAY)
        essay_context(g, num_haystack, depth, placed, k, &ctx, needle_depth);
    else
        line_context(g, num_haystack, depth, placed, k, &ctx, needle_depth);

    /* Queries: sample(range(num_keys), num_queries); answers are their values. */
    int64_t q[8];
    pyr_sample_indices(&g->rng, K, t->num_queries, q);
    char query[2048] = "";
    for (int i = 0; i < t->num_queries; i++) {
        if (i) strcat(query, t->num_queries > 1 && i == t->num_queries - 1 ? ", and " : ", ");
        strncat(query, keys[q[i]], sizeof query - strlen(query) - 1);
    }
    s->num_answers = t->num_queries * V;
    s->answers = malloc((size_t)s->num_answers * sizeof *s->answers);
    for (int i = 0; i < t->num_queries; i++)
        for (int j = 0; j < V; j++) s->answers[i * V + j] = strdup(values[q[i]][j]);
    s->prompt = format_prompt(g->template, ctx, (size_t)arrlen(ctx), query);
    arrfree(ctx);

    /* The needle carrying answers[0]: key q[0], value 0. */
    s->depth = 0;
    s->needle_at = 0;
    for (int i = 0; i < k; i++)
        if (placed[i].key == q[0] && placed[i].value == 0) {
            s->depth = needle_depth[i];
            const char *at = strstr(s->prompt, placed[i].text);
            s->needle_at = at ? (size_t)(at - s->prompt) : 0;
        }
    /* answer_prefix_index = input_text.rfind(ANSWER_PREFIX[:10]) */
    const char *mark = " The speci", *p = s->prompt, *found = NULL;
    while ((p = strstr(p, mark))) found = p++;
    s->prefix_at = found ? (size_t)(found - s->prompt) : strlen(s->prompt);
    s->num_haystack = num_haystack;
    int n = g->src->count(g->src->count_ctx, s->prompt, strlen(s->prompt), e);
    if (n < 0) return -1;
    s->n_tokens = n;
    return 0;
}

static void sample_clear(struct niah_sample *s)
{
    for (int i = 0; i < s->num_answers; i++) free(s->answers[i]);
    free(s->answers);
    free(s->prompt);
    memset(s, 0, sizeof *s);
}

void niah_samples_free(struct niah_sample *samples, int num)
{
    for (int i = 0; i < num; i++) sample_clear(&samples[i]);
    free(samples);
}

static bool fits(const struct generator *g, const struct niah_sample *s)
{
    return (int64_t)s->n_tokens + g->rq->tokens_to_generate <= g->rq->length;
}

int niah_generate(const struct niah_request *rq, const struct niah_sources *src, struct niah_sample **out, int *num,
                  struct hr_error *e)
{
    const struct niah_task *t = rq->task;
    *out = NULL;
    *num = 0;
    if (t->haystack == HAYSTACK_ESSAY && !src->essay) return hr_fail(e, "%s needs an essay haystack", t->name);
    if ((t->key_kind == KIND_WORDS || t->value_kind == KIND_WORDS) && !src->words)
        return hr_fail(e, "%s needs the word lists", t->name);
    struct generator g = {.rq = rq, .src = src};
    g.num_keys = t->num_keys > t->num_queries ? t->num_keys : t->num_queries;
    g.template = niah_prompt_template(t, rq->chat_wrapper);
    pyr_seed(&g.rng, rq->seed);

    int64_t incremental = t->haystack == HAYSTACK_ESSAY ? 500 : 25;
    if (t->haystack != HAYSTACK_ESSAY && rq->length < 4096) incremental = 5;

    /* Estimate tokens per unit, then binary search the largest haystack that fits. */
    struct niah_sample s = {0};
    int rc = generate_one(&g, incremental, -1, &s, e);
    const double per_unit = (double)s.n_tokens / (double)incremental;
    sample_clear(&s);
    int64_t lower = incremental, upper = (int64_t)((double)rq->length / per_unit * 3), best = -1;
    if (upper < 2 * incremental) upper = 2 * incremental;
    while (rc == 0 && lower <= upper) {
        int64_t mid = (lower + upper) / 2;
        rc = generate_one(&g, mid, -1, &s, e);
        if (rc == 0 && fits(&g, &s))
            best = mid, lower = mid + 1;
        else
            upper = mid - 1;
        sample_clear(&s);
    }
    const int64_t num_haystack = best > 0 ? best : incremental;

    const int depths = rq->depths ? rq->num_depths : 1, total = rq->num_samples * depths;
    struct niah_sample *samples = calloc((size_t)(total ? total : 1), sizeof *samples);
    for (int i = 0; rc == 0 && i < total; i++) {
        const int depth = rq->depths ? rq->depths[i / rq->num_samples] : -1;
        int64_t used = num_haystack;
        for (int attempt = 0;; attempt++) {
            rc = generate_one(&g, used, depth, &samples[i], e);
            if (rc != 0 || fits(&g, &samples[i])) break;
            int need = samples[i].n_tokens;
            sample_clear(&samples[i]);
            if (used > incremental)
                used -= incremental;
            else if (attempt > 20) { /* RULER would retry forever here */
                rc = hr_fail(e,
                             "%s: length %lld is too small: %lld haystack units already take %d prompt tokens "
                             "+ %d to generate",
                             t->name, (long long)rq->length, (long long)used, need, rq->tokens_to_generate);
                break;
            }
        }
        samples[i].index = i;
    }
    free(g.template);
    if (rc != 0) {
        niah_samples_free(samples, total);
        return -1;
    }
    *out = samples;
    *num = total;
    return 0;
}

int niah_generate_once(const struct niah_request *rq, const struct niah_sources *src, int64_t num_haystack,
                       struct niah_sample *s, struct hr_error *e)
{
    const struct niah_task *t = rq->task;
    struct generator g = {.rq = rq, .src = src};
    g.num_keys = t->num_keys > t->num_queries ? t->num_keys : t->num_queries;
    g.template = niah_prompt_template(t, rq->chat_wrapper);
    pyr_seed(&g.rng, rq->seed);
    memset(s, 0, sizeof *s);
    int rc = generate_one(&g, num_haystack, -1, s, e);
    free(g.template);
    return rc;
}

int niah_tokenizer_counter(void *ctx, const char *text, size_t len, struct hr_error *e)
{
    int32_t *ids;
    int n;
    if (tok_encode(ctx, text, len, &ids, &n, e)) return -1;
    free(ids);
    return n;
}
