/* The parts of a loaded tokenizer, shared by the files that build and use it. */
#ifndef HYRECALL_TOKENIZER_INTERNAL_H
#define HYRECALL_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

struct added_token {
    char *content;
    size_t len;
    int32_t id;
    bool special, lstrip, rstrip, normalized, single_word;
};

/* One pre-tokenizer step. Split cuts pieces at regex matches, keeping both the
 * matches and the text between them ("Isolated"); ByteLevel optionally splits
 * with GPT-2's regex and prepends a space to pieces that lack one, and marks
 * the hand-over to byte-level BPE. */
struct pretok_step {
    enum { PRETOK_SPLIT, PRETOK_BYTE_LEVEL } kind;
    pcre2_code *re; /* Split's regex, or ByteLevel's GPT-2 regex when use_regex */
    bool add_prefix_space;
};

struct merge {
    int32_t rank, merged;
};

struct tokenizer {
    char *path;
    struct byte_level bl;
    int32_t num_ids;
    char **id_to_token; /* [num_ids]: ByteLevel string, or an added token's content */
    bool *id_is_added;  /* [num_ids] */
    struct {
        char *key;
        int32_t value;
    } * vocab; /* stb_ds string map: ByteLevel token string -> id */
    struct {
        uint64_t key; /* (left id << 32) | right id */
        struct merge value;
    } * merges;           /* stb_ds hash map */
    int32_t byte_id[256]; /* id of each byte's one-character token */
    bool ignore_merges;
    struct added_token *added; /* stb_ds array */
    bool added_first_byte[256];
    bool nfc;
    struct pretok_step *steps; /* stb_ds array */
    /* Word cache: ByteLevel piece -> span of ids in cache_ids. */
    struct {
        char *key;
        int64_t value; /* offset << 16 | count */
    } * cache;
    int32_t *cache_ids; /* stb_ds array */
};

/* BPE of one piece of raw bytes (after pre-tokenisation), appended to *out
 * (an stb_ds array). prefix_space prepends a ' ' byte. */
void bpe_encode_piece(struct tokenizer *t, const unsigned char *bytes, size_t len, bool prefix_space, int32_t **out);

#endif
