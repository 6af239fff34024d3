#include "niah/niah_words.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts by `s + "-"`: the adjective's place in the sorted key list. */
static int by_with_hyphen(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    for (;; x++, y++) {
        unsigned char cx = *x ? (unsigned char)*x : '-', cy = *y ? (unsigned char)*y : '-';
        if (cx != cy) return cx < cy ? -1 : 1;
        if (!*x || !*y) return !*x && !*y ? 0 : (!*x ? -1 : 1);
    }
}

static int load_list(const char *path, char ***out, int64_t *n, struct hr_error *e)
{
    char *text = read_text_file(path, NULL, e);
    if (!text) return -1;
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        /* Python's str.strip() on ASCII whitespace. */
        while (*line == ' ' || *line == '\t' || *line == '\r') line++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!len) continue;
        if (len > 100) {
            free(text);
            return hr_fail(e, "%s: an entry is longer than 100 bytes", path);
        }
        if ((size_t)*n == cap) *out = realloc(*out, (cap = cap ? 2 * cap : 1024) * sizeof **out);
        (*out)[(*n)++] = strdup(line);
    }
    free(text);
    if (*n == 0) return hr_fail(e, "%s: no entries", path);
    return 0;
}

static void dedup(char **v, int64_t *n)
{
    int64_t k = 0;
    for (int64_t i = 0; i < *n; i++) {
        if (k && strcmp(v[k - 1], v[i]) == 0) {
            free(v[i]);
            continue;
        }
        v[k++] = v[i];
    }
    *n = k;
}

static bool hyphen_prefix(const char *root, const char *adj)
{
    size_t l = strlen(root);
    return strncmp(root, adj, l) == 0 && adj[l] == '-';
}

static void build_blocks(struct word_keys *w)
{
    w->blocks = calloc((size_t)w->num_adjs, sizeof *w->blocks);
    int64_t total = 0;
    for (int64_t i = 0; i < w->num_adjs;) {
        int64_t j = i + 1;
        while (j < w->num_adjs && hyphen_prefix(w->adjs[i], w->adjs[j])) j++;
        struct word_block *b = &w->blocks[w->num_blocks++];
        b->first = total;
        b->adj = i;
        if (j == i + 1) {
            b->count = w->num_nouns;
        } else { /* a cluster: every key of its adjectives, sorted, unique */
            char buf[256];
            b->keys = malloc((size_t)((j - i) * w->num_nouns) * sizeof *b->keys);
            for (int64_t a = i; a < j; a++)
                for (int64_t n = 0; n < w->num_nouns; n++) {
                    snprintf(buf, sizeof buf, "%s-%s", w->adjs[a], w->nouns[n]);
                    b->keys[b->count++] = strdup(buf);
                }
            qsort(b->keys, (size_t)b->count, sizeof *b->keys, by_bytes);
            dedup(b->keys, &b->count);
        }
        total += b->count;
        i = j;
    }
    w->total = total;
}

int word_keys_load(const char *dir, struct word_keys *w, struct hr_error *e)
{
    memset(w, 0, sizeof *w);
    char path[4096];
    snprintf(path, sizeof path, "%s/adjectivelist.txt", dir);
    if (load_list(path, &w->adjs, &w->num_adjs, e)) return -1;
    snprintf(path, sizeof path, "%s/nounlist.txt", dir);
    if (load_list(path, &w->nouns, &w->num_nouns, e)) {
        word_keys_free(w);
        return -1;
    }
    qsort(w->adjs, (size_t)w->num_adjs, sizeof *w->adjs, by_with_hyphen);
    dedup(w->adjs, &w->num_adjs);
    qsort(w->nouns, (size_t)w->num_nouns, sizeof *w->nouns, by_bytes);
    dedup(w->nouns, &w->num_nouns);
    build_blocks(w);
    return 0;
}

void word_keys_free(struct word_keys *w)
{
    for (int64_t b = 0; b < w->num_blocks; b++) {
        for (int64_t k = 0; w->blocks[b].keys && k < w->blocks[b].count; k++) free(w->blocks[b].keys[k]);
        free(w->blocks[b].keys);
    }
    free(w->blocks);
    for (int64_t i = 0; i < w->num_adjs; i++) free(w->adjs[i]);
    for (int64_t i = 0; i < w->num_nouns; i++) free(w->nouns[i]);
    free(w->adjs);
    free(w->nouns);
    memset(w, 0, sizeof *w);
}

int64_t word_keys_count(const struct word_keys *w)
{
    return w->total;
}

void word_keys_at(const struct word_keys *w, int64_t i, char *out, size_t size)
{
    int64_t lo = 0, hi = w->num_blocks - 1; /* the last block with first <= i */
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (w->blocks[mid].first <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    const struct word_block *b = &w->blocks[lo];
    const int64_t k = i - b->first;
    if (b->keys)
        snprintf(out, size, "%s", b->keys[k]);
    else
        snprintf(out, size, "%s-%s", w->adjs[b->adj], w->nouns[k]);
}
