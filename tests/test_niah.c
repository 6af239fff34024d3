/* The NIAH generator and scorer (niah/), with no model:
 *  - CPython's random, draw for draw (vectors from CPython 3.11 and RULER's
 *    own niah.py, recorded in the project's research notes);
 *  - the word keys of wonderwords 2.2.0 as RULER sorts them;
 *  - RULER's samples for fixed haystack sizes right after random.seed(42);
 *  - every task at several lengths with the real Qwen3 tokenizer: the budget
 *    holds and is nearly filled, each needle appears exactly once, every
 *    answer is in the context, depths land where stated, same seed → same
 *    bytes, other seed → other bytes;
 *  - the scorer on hand-written cases following RULER's definitions.
 *   test_niah TOKENIZER_JSON HAYSTACK_TXT WORDLIST_DIR */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "niah/niah_generate.h"
#include "niah/niah_score.h"
#include "niah/pyrandom.h"
#include "niah/sha256.h"
#include "tests/test_util.h"
#include "tokenizer/tokenizer.h"

static void python_random(void)
{
    struct pyrandom r;
    pyr_seed(&r, 42);
    const uint32_t first[5] = {2746317213u, 478163327u, 107420369u, 3184935163u, 1181241943u};
    bool ok = true;
    for (int i = 0; i < 5; i++) ok &= pyr_getrandbits(&r, 32) == first[i];
    CHECK(ok, "getrandbits(32) after seed(42) differs from CPython");
    pyr_seed(&r, 42);
    const int64_t ints[3] = {2867825, 1419610, 5614226};
    for (int i = 0; i < 3; i++) ok &= pyr_randint(&r, 1000000, 9999999) == ints[i];
    CHECK(ok, "randint differs from CPython");
    pyr_seed(&r, 42);
    char uuid[37];
    pyr_uuid4(&r, uuid);
    CHECK(strcmp(uuid, "bdd640fb-0667-4ad1-9c80-317fa3b1799d") == 0, "uuid4 %s", uuid);
    pyr_seed(&r, 42);
    const int64_t below[3] = {5363900, 933912, 209805};
    for (int i = 0; i < 3; i++) ok &= (int64_t)pyr_randbelow(&r, 6175260) == below[i];
    CHECK(ok, "randbelow differs from CPython");
    pyr_seed(&r, 42);
    int64_t pick[4];
    pyr_sample_indices(&r, 40, 4, pick);
    CHECK(NIAH_DEPTHS[pick[0]] == 18 && NIAH_DEPTHS[pick[1]] == 3 && NIAH_DEPTHS[pick[2]] == 44 &&
              NIAH_DEPTHS[pick[3]] == 38,
          "sample(DEPTHS, 4) differs from CPython");
    pyr_seed(&r, 42);
    int64_t perm[4] = {0, 1, 2, 3};
    pyr_shuffle(&r, perm, 4);
    CHECK(perm[0] == 2 && perm[1] == 1 && perm[2] == 3 && perm[3] == 0, "shuffle differs from CPython");
    printf("python random: getrandbits, randint, uuid4, randbelow, sample, shuffle match CPython 3.11\n");
    char hex[65];
    sha256_hex((const unsigned char *)"abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "sha256(abc) %s", hex);
}

static void word_list(const struct word_keys *w)
{
    char a[256], b[256];
    word_keys_at(w, 0, a, sizeof a);
    word_keys_at(w, 5363900, b, sizeof b);
    printf("word keys: %lld (%lld adjectives x %lld nouns); WORDS[0] = %s, WORDS[5363900] = %s\n",
           (long long)word_keys_count(w), (long long)w->num_adjs, (long long)w->num_nouns, a, b);
    CHECK(word_keys_count(w) == 6175260, "%lld keys, RULER has 6175260", (long long)word_keys_count(w));
    CHECK(strcmp(a, "Early-ATM") == 0 && strcmp(b, "tenuous-hospice") == 0, "word keys out of RULER's order");
}

/* RULER's own outputs for generate_input_output(N) right after seed(42). */
static void ruler_vectors(const struct niah_sources *src)
{
    struct hr_error e;
    struct niah_sample s;
    struct niah_request rq = {.task = niah_task_find("niah_single_1"), .seed = 42};
    const char *s1 =
        "A special magic number is hidden within the following text. Make sure to memorize it. I will quiz "
        "you about the number afterwards.\nOne of the special magic numbers for tenuous-hospice is: "
        "2867825.\n" NIAH_NOISE "\n" NIAH_NOISE "\n" NIAH_NOISE
        "\nWhat is the special magic number for tenuous-hospice mentioned in the provided text? The "
        "special magic number for tenuous-hospice mentioned in the provided text is";
    CHECK(niah_generate_once(&rq, src, 3, &s, &e) == 0, "%s", e.msg);
    CHECK(strcmp(s.prompt, s1) == 0, "S1 sample differs from RULER's:\n%s", s.prompt);
    CHECK(s.num_answers == 1 && strcmp(s.answers[0], "2867825") == 0, "S1 answer");
    printf("RULER vector S1 generate(3): %s\n", strcmp(s.prompt, s1) == 0 ? "identical" : "DIFFERENT");
    free(s.prompt), free(s.answers[0]), free(s.answers);

    rq.task = niah_task_find("niah_multikey_3");
    CHECK(niah_generate_once(&rq, src, 2, &s, &e) == 0, "%s", e.msg);
    bool mk3 = strstr(s.prompt, "for bdd640fb-0667-4ad1-9c80-317fa3b1799d is: 23b8c1e9-3924-46de-beb1-3b9046685257.") &&
               strstr(s.prompt, "bd9c66b3-ad3c-4d6d-9a3d-1fa7bc8960a9") &&
               strstr(s.prompt, "17fc695a-07a0-4a6e-8822-e8f36c031199") &&
               strcmp(s.answers[0], "23b8c1e9-3924-46de-beb1-3b9046685257") == 0;
    CHECK(mk3, "MK3 sample differs from RULER's:\n%s", s.prompt);
    printf("RULER vector MK3 generate(2): %s\n", mk3 ? "identical needle, distractors and answer" : "DIFFERENT");
    free(s.prompt), free(s.answers[0]), free(s.answers);

    /* MQ on a 4-unit noise haystack. */
    struct niah_task mq = *niah_task_find("niah_multiquery");
    mq.haystack = HAYSTACK_NOISE;
    rq.task = &mq;
    CHECK(niah_generate_once(&rq, src, 4, &s, &e) == 0, "%s", e.msg);
    const char *want[4] = {"2867825", "2719583", "4744854", "5614226"};
    bool ok = s.num_answers == 4 &&
              strstr(s.prompt, "for tenuous-hospice, dashing-kite, fretful-rebellion, and ad hoc-tough-guy mentioned");
    for (int i = 0; ok && i < 4; i++) ok = strcmp(s.answers[i], want[i]) == 0;
    CHECK(ok, "MQ sample differs from RULER's:\n%s", s.prompt);
    printf("RULER vector MQ (noise, 4 units): %s\n", ok ? "identical query and answers" : "DIFFERENT");
    for (int i = 0; i < s.num_answers; i++) free(s.answers[i]);
    free(s.prompt), free(s.answers);
}

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* Every task, at small lengths, with the real tokenizer. */
static void task_properties(const struct niah_sources *src)
{
    const int64_t lengths[] = {1024, 4096};
    for (int ti = 0; ti < 8; ti++)
        for (int li = 0; li < 2; li++) {
            struct niah_request rq = {
                .task = &niah_tasks[ti], .length = lengths[li], .tokens_to_generate = 128, .seed = 7, .num_samples = 4};
            struct niah_sample *a, *b, *c;
            int na, nb, nc;
            struct hr_error e;
            if (niah_generate(&rq, src, &a, &na, &e)) {
                CHECK(0, "%s: %s", niah_tasks[ti].name, e.msg);
                continue;
            }
            niah_generate(&rq, src, &b, &nb, &e);
            rq.seed = 8;
            niah_generate(&rq, src, &c, &nc, &e);
            int worst_fill = 1 << 30;
            bool same = na == nb, differ = false;
            for (int i = 0; i < na; i++) {
                const struct niah_sample *s = &a[i];
                same = same && strcmp(s->prompt, b[i].prompt) == 0;
                differ = differ || strcmp(s->prompt, c[i].prompt) != 0;
                int measured = niah_tokenizer_counter(src->count_ctx, s->prompt, strlen(s->prompt), &e);
                CHECK(measured == s->n_tokens && measured + 128 <= lengths[li], "%s@%lld: %d tokens + 128 > budget",
                      niah_tasks[ti].name, (long long)lengths[li], measured);
                int slack = (int)lengths[li] - 128 - measured;
                worst_fill = slack < worst_fill ? slack : worst_fill;
                /* Each answer: its needle line exactly once, before the question. */
                const char *question = strstr(s->prompt, "\nWhat ");
                for (int k = 0; k < s->num_answers; k++) {
                    char tail[300];
                    snprintf(tail, sizeof tail, " is: %s.", s->answers[k]);
                    CHECK(occurrences(s->prompt, tail) == 1, "%s: needle with %s appears %d times", niah_tasks[ti].name,
                          s->answers[k], occurrences(s->prompt, tail));
                    const char *at = strstr(s->prompt, tail);
                    CHECK(at && question && at < question, "%s: answer %s not in the context", niah_tasks[ti].name,
                          s->answers[k]);
                }
                CHECK(strncmp(s->prompt + s->prefix_at, " The special magic", 18) == 0, "answer prefix not found");
            }
            printf("  %-16s @%5lld: %d samples, %lld haystack units, prompt tokens %d..%d (slack <= %d); same seed "
                   "identical: %s, other seed differs: %s\n",
                   niah_tasks[ti].name, (long long)lengths[li], na, (long long)a[0].num_haystack, a[0].n_tokens,
                   a[na - 1].n_tokens, worst_fill, same ? "yes" : "NO", differ ? "yes" : "NO");
            CHECK(same && differ, "%s: seeds do not behave", niah_tasks[ti].name);
            /* RULER's binary search fills the budget: the slack is below one increment's worth. */
            CHECK(worst_fill < (niah_tasks[ti].haystack == HAYSTACK_ESSAY ? 800 : 600), "%s: budget underused by %d",
                  niah_tasks[ti].name, worst_fill);
            niah_samples_free(a, na), niah_samples_free(b, nb), niah_samples_free(c, nc);
        }
}

/* Sentences in words[0, n) by the haystack's splitter (the last word always
 * ends one). */
static int64_t count_sentences(char **words, int64_t n)
{
    int64_t s = n > 0;
    for (int64_t i = 0; i + 1 < n; i++) s += sentence_break(words[i], words[i + 1]);
    return s;
}

static int64_t split_words(char *text, char ***out)
{
    int64_t n = 0, cap = 1024;
    *out = malloc((size_t)cap * sizeof **out);
    for (char *w = strtok(text, " \n"); w; w = strtok(NULL, " \n")) {
        if (n == cap) *out = realloc(*out, (size_t)(cap *= 2) * sizeof **out);
        (*out)[n++] = w;
    }
    return n;
}

/* Fixed depth grid. Noise: the needle's line is at depth% of the lines.
 * Essay: as RULER places needles, after int(n_sents · depth / 100) sentences. */
static void depth_grid(const struct niah_sources *src)
{
    const int depths[] = {0, 25, 50, 75, 100};
    const char *tasks[] = {"niah_single_1", "niah_single_2"};
    for (int t = 0; t < 2; t++) {
        struct niah_request rq = {.task = niah_task_find(tasks[t]),
                                  .length = 8192,
                                  .tokens_to_generate = 128,
                                  .seed = 3,
                                  .num_samples = 2,
                                  .depths = depths,
                                  .num_depths = 5};
        struct niah_sample *s;
        int n;
        struct hr_error e;
        CHECK(niah_generate(&rq, src, &s, &n, &e) == 0, "%s", e.msg);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            const double want = depths[i / 2];
            CHECK(s[i].depth == want, "recorded depth %g, asked %g", s[i].depth, want);
            const char *ctx = strchr(s[i].prompt, '\n') + 1, *end = strstr(s[i].prompt, "\nWhat ");
            const char *needle = s[i].prompt + s[i].needle_at, *after = strstr(needle, ".") + 1;
            if (t == 0) { /* lines */
                int64_t before = 0, total = 0;
                for (const char *p = ctx; p < end; p++) total += *p == '\n', before += *p == '\n' && p < needle;
                const double at = 100.0 * (double)before / (double)total; /* total = lines - 1 = haystack units */
                worst = fmax(worst, fabs(at - want));
            } else { /* sentences */
                char *pre = strndup(ctx, (size_t)(needle - ctx)), *post = strndup(after, (size_t)(end - after));
                char **wa, **wb;
                int64_t na = split_words(pre, &wa), nb = split_words(post, &wb);
                char **all = malloc((size_t)(na + nb + 1) * sizeof *all);
                memcpy(all, wa, (size_t)na * sizeof *all);
                memcpy(all + na, wb, (size_t)nb * sizeof *all);
                int64_t sents = count_sentences(all, na + nb), before = count_sentences(wa, na);
                int64_t expect = (int64_t)((double)sents * (want / 100.0));
                worst = fmax(worst, (double)llabs(before - expect));
                free(pre), free(post), free(wa), free(wb), free(all);
            }
        }
        printf("  %s depth grid 0..100: needle %s %.2f away from its stated place\n", tasks[t],
               t == 0 ? "percent of lines" : "sentences", worst);
        CHECK(worst < (t == 0 ? 1.0 : 0.5), "%s: needle %.2f away from its depth", tasks[t], worst);
        niah_samples_free(s, n);
    }
    /* Too short for the template. */
    struct niah_request rq = {
        .task = niah_task_find("niah_single_2"), .length = 150, .tokens_to_generate = 128, .seed = 1, .num_samples = 1};
    struct niah_sample *s;
    int n;
    struct hr_error e;
    int rc = niah_generate(&rq, src, &s, &n, &e);
    CHECK(rc != 0 && strstr(e.msg, "too small"), "length 150 accepted");
    printf("  length 150 -> %s\n", rc ? e.msg : "accepted");
}

static void scorer(void)
{
    const char *one[] = {"4729183"}, *two[] = {"1234567", "7654321"}, *uuid[] = {"3F2504E0-4f89-11d3"};
    char p1[] = "  4729183.\n", p2[] = "The numbers are 1234567 and 9999999", p3[] = "",
         p4[] = "\x01 3f2504e0-4F89-11D3 \t";
    char p5[] = "47291830";
    CHECK(niah_string_match_all(niah_postprocess(p1), one, 1) == 1.0, "exact number");
    CHECK(niah_string_match_all(niah_postprocess(p2), two, 2) == 0.5, "half of two");
    CHECK(niah_string_match_part(p2, two, 2) == 1.0, "part: any");
    CHECK(niah_string_match_all(niah_postprocess(p3), one, 1) == 0.0, "empty prediction");
    char *pp = niah_postprocess(p4);
    CHECK(strcmp(pp, "3f2504e0-4F89-11D3") == 0, "postprocess gave '%s'", pp);
    CHECK(niah_string_match_all(pp, uuid, 1) == 1.0, "case-insensitive");
    CHECK(niah_string_match_all(p5, one, 1) == 1.0, "substring of a longer digit string matches (RULER)");
    /* round(66.666..., 2) = 66.67; round(0.125, 2) = 0.12 (ties to even on the exact binary value). */
    CHECK(niah_round2(100 * (2.0 / 3)) == 66.67 && niah_round2(0.125) == 0.12, "round2");
    printf("scorer: string_match_all/part, post-processing and rounding follow RULER's definitions\n");
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    struct hr_error e;
    struct tokenizer *tok;
    struct essay es;
    struct word_keys w;
    if (tok_load(argv[1], &tok, &e) || essay_load(argv[2], &es, &e) || word_keys_load(argv[3], &w, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    struct niah_sources src = {.words = &w, .essay = &es, .count = niah_tokenizer_counter, .count_ctx = tok};
    python_random();
    word_list(&w);
    ruler_vectors(&src);
    task_properties(&src);
    depth_grid(&src);
    scorer();
    tok_free(tok);
    essay_free(&es);
    word_keys_free(&w);
    return test_finish("test_niah");
}
