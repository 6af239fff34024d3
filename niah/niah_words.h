/* RULER's word keys: WORDS = sorted(set(adj + "-" + noun)) over the
 * wonderwords 2.2.0 adjective and noun lists (shipped in data/wordlists with
 * their MIT licence). The 6.2 million keys are not materialised: sorted
 * byte-wise, the set is a sequence of blocks, one per adjective A (sorted by
 * A + "-"), each holding A-noun for every noun in sorted order; WORDS[i] is
 * computed from i. Only where an adjective is another's prefix up to a hyphen
 * ("blue" and "blue-eyed") do two blocks interleave: such a cluster is
 * materialised, sorted and deduplicated as a whole. */
#ifndef HYRECALL_NIAH_WORDS_H
#define HYRECALL_NIAH_WORDS_H

#include <stdint.h>

#include <stddef.h>

#include "engine/base/error.h"

struct word_block {
    int64_t first; /* index in WORDS of the block's first key */
    int64_t count;
    int64_t adj; /* computed block: adjs[adj] + "-" + nouns[k] */
    char **keys; /* materialised cluster (sorted), or NULL */
};

struct word_keys {
    char **adjs, **nouns; /* sorted, unique */
    int64_t num_adjs, num_nouns;
    struct word_block *blocks;
    int64_t num_blocks, total;
};

/* Loads DIR/adjectivelist.txt and DIR/nounlist.txt (one entry per line,
 * surrounding whitespace stripped, empty lines skipped). */
int word_keys_load(const char *dir, struct word_keys *w, struct hr_error *e);
void word_keys_free(struct word_keys *w);
int64_t word_keys_count(const struct word_keys *w);
/* WORDS[i] into out (size >= 256). */
void word_keys_at(const struct word_keys *w, int64_t i, char *out, size_t size);

#endif
