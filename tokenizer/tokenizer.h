/* Hugging Face tokenizer.json, byte-level BPE (GPT-2 / Qwen2 / Qwen3 family).
 *
 * Encoding, as the tokenizers library does it:
 *   1. split out added tokens (special tokens such as <|im_start|>) from the raw text;
 *   2. normalise the rest (NFC, via utf8proc);
 *   3. pre-tokenise: regex Split (PCRE2, Unicode properties) and ByteLevel, which
 *      maps every byte to a printable character (bytes_to_unicode of GPT-2);
 *   4. BPE: merge adjacent symbols by merge rank, lowest first, leftmost on ties;
 *   5. map the final symbols to ids.
 * Decoding maps ids back to their strings and the ByteLevel characters back to
 * bytes. Components the file names that are not implemented are refused at
 * load with a message naming them, never approximated. */
#ifndef HYRECALL_TOKENIZER_H
#define HYRECALL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"

struct tokenizer;

int tok_load(const char *path, struct tokenizer **out, struct hr_error *e);
void tok_free(struct tokenizer *t);
/* The same from tokenizer.json text in memory; path names it in messages. */
int tok_load_text(const char *path, const char *text, size_t len, struct tokenizer **out, struct hr_error *e);

/* Encodes len bytes of text (any bytes: invalid UTF-8 is encoded byte-wise).
 * *ids is malloc'd (caller frees). Special-token strings in the text are
 * recognised as their ids. */
int tok_encode(struct tokenizer *t, const char *text, size_t len, int32_t **ids, int *n, struct hr_error *e);

/* Decodes ids into bytes (malloc'd, NUL-terminated; *len excludes the NUL). */
int tok_decode(const struct tokenizer *t, const int32_t *ids, int n, char **text, size_t *len, struct hr_error *e);

/* Id of a token string (vocabulary or added token), or -1. */
int32_t tok_token_id(const struct tokenizer *t, const char *token);

#endif
