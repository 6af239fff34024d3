/* The essay haystack: a text corpus as RULER reads it, re.sub(r"\s+", " ",
 * text).split(" "), and where its sentences end.
 *
 * RULER splits the sampled text into sentences with NLTK's Punkt; hyrecall
 * uses a rule splitter instead (sentence-final . ! ? with optional closing
 * quotes or brackets, followed by a word that starts with an upper-case letter,
 * a digit or an opening quote; not after common abbreviations such as Mr. or
 * single-letter initials). Only where needles may go depends on this choice,
 * never the haystack words themselves. */
#ifndef HYRECALL_NIAH_HAYSTACK_H
#define HYRECALL_NIAH_HAYSTACK_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"

struct essay {
    char *text;   /* words, NUL-separated */
    char **words; /* [num_words] pointers into text */
    int64_t num_words;
    bool *ends_sentence; /* [num_words]: a sentence ends after word i when word i+1 (cyclically) follows */
    char sha256[65];     /* of the file, for the record */
};

/* Loads plain UTF-8 text, or a JSON object {"text": ...} (RULER's
 * PaulGrahamEssays.json) when the file starts with '{'. Leading and trailing
 * whitespace of the corpus is dropped. */
int essay_load(const char *path, struct essay *es, struct hr_error *e);
void essay_free(struct essay *es);

/* Whether a sentence may end between word a and the following word b. */
bool sentence_break(const char *a, const char *b);

#endif
