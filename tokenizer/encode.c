/* The encode pipeline (added tokens, normalisation, pre-tokenisation, BPE)
 * and decoding. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "stb_ds.h"
#include "tokenizer/tokenizer_internal.h"

struct piece {
    const unsigned char *p;
    size_t len;
    bool prefix_space;
};

/* Unicode whitespace, as Rust's char::is_whitespace (for lstrip/rstrip). */
static size_t whitespace_at(const unsigned char *s, size_t len)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(s, (utf8proc_ssize_t)len, &cp);
    if (n <= 0) return 0;
    if ((cp >= 9 && cp <= 13) || cp == 0x85) return (size_t)n;
    utf8proc_category_t c = utf8proc_category(cp);
    return (c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP) ? (size_t)n : 0;
}

static bool is_word_byte(unsigned char c)
{
    return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* Longest added token starting at text[i] (of those with the given
 * `normalized` flag), honouring single_word; NULL if none. */
static const struct added_token *added_at(const struct tokenizer *t, const unsigned char *text, size_t len, size_t i,
                                          bool normalized)
{
    if (!t->added_first_byte[text[i]]) return NULL;
    const struct added_token *best = NULL;
    for (ptrdiff_t k = 0; k < arrlen(t->added); k++) {
        const struct added_token *a = &t->added[k];
        if (a->normalized != normalized || a->len > len - i || (best && a->len <= best->len)) continue;
        if (memcmp(text + i, a->content, a->len) != 0) continue;
        if (a->single_word &&
            ((i > 0 && is_word_byte(text[i - 1])) || (i + a->len < len && is_word_byte(text[i + a->len]))))
            continue;
        best = a;
    }
    return best;
}

/* Splits text into runs of ordinary text and added tokens. Calls
 * on_text(span) for text and appends added-token ids directly. lstrip /
 * rstrip tokens swallow the whitespace next to them. */
typedef int (*text_fn)(struct tokenizer *t, const unsigned char *s, size_t len, int32_t **ids, struct hr_error *e);

static int split_added(struct tokenizer *t, const unsigned char *text, size_t len, bool normalized, text_fn on_text,
                       int32_t **ids, struct hr_error *e)
{
    size_t start = 0, i = 0;
    while (i < len) {
        const struct added_token *a = added_at(t, text, len, i, normalized);
        if (!a) {
            i++;
            continue;
        }
        size_t text_end = i, after = i + a->len;
        if (a->lstrip)
            while (text_end > start) { /* step back over whitespace, one code point at a time */
                size_t back = 1;
                while (back < 4 && text_end - back > start && (text[text_end - back] & 0xC0) == 0x80) back++;
                if (whitespace_at(text + text_end - back, back) != back) break;
                text_end -= back;
            }
        if (a->rstrip)
            for (size_t w; after < len && (w = whitespace_at(text + after, len - after)) > 0;) after += w;
        if (text_end > start && on_text(t, text + start, text_end - start, ids, e)) return -1;
        arrput(*ids, a->id);
        start = i = after;
    }
    if (len > start && on_text(t, text + start, len - start, ids, e)) return -1;
    return 0;
}

/* Regex split, "Isolated": matches and the gaps between them are pieces. */
static void split_regex(const pcre2_code *re, const struct piece *in, struct piece **out)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    size_t at = 0;
    while (at < in->len) {
        int rc = pcre2_match(re, in->p, in->len, at, 0, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], f = ov[1];
        if (f == s) { /* an empty match: step past one byte and look again */
            at = s + 1;
            continue;
        }
        if (s > at) arrput(*out, ((struct piece){in->p + at, s - at, false}));
        arrput(*out, ((struct piece){in->p + s, f - s, false}));
        at = f;
    }
    if (at < in->len) arrput(*out, ((struct piece){in->p + at, in->len - at, false}));
    pcre2_match_data_free(md);
}

static int encode_normalized(struct tokenizer *t, const unsigned char *s, size_t len, int32_t **ids, struct hr_error *e)
{
    (void)e;
    struct piece *cur = NULL, *next = NULL;
    arrput(cur, ((struct piece){s, len, false}));
    for (ptrdiff_t k = 0; k < arrlen(t->steps); k++) {
        const struct pretok_step *st = &t->steps[k];
        if (st->re) {
            if (next) arrdeln(next, 0, arrlen(next));
            for (ptrdiff_t i = 0; i < arrlen(cur); i++) split_regex(st->re, &cur[i], &next);
            struct piece *tmp = cur;
            cur = next;
            next = tmp;
        }
        if (st->kind == PRETOK_BYTE_LEVEL && st->add_prefix_space)
            for (ptrdiff_t i = 0; i < arrlen(cur); i++) cur[i].prefix_space = cur[i].len == 0 || cur[i].p[0] != ' ';
    }
    for (ptrdiff_t i = 0; i < arrlen(cur); i++) bpe_encode_piece(t, cur[i].p, cur[i].len, cur[i].prefix_space, ids);
    arrfree(cur);
    arrfree(next);
    return 0;
}

/* NFC on each maximal run of valid UTF-8; invalid bytes pass through as
 * they are (they are later encoded byte-wise). */
static int normalize_then_encode(struct tokenizer *t, const unsigned char *s, size_t len, int32_t **ids,
                                 struct hr_error *e)
{
    if (!t->nfc) return split_added(t, s, len, true, encode_normalized, ids, e);
    unsigned char *buf = NULL; /* stb_ds byte array */
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        utf8proc_int32_t cp;
        utf8proc_ssize_t n;
        while (j < len && (n = utf8proc_iterate(s + j, (utf8proc_ssize_t)(len - j), &cp)) > 0) j += (size_t)n;
        if (j > i) {
            utf8proc_uint8_t *nfc = NULL;
            utf8proc_ssize_t m =
                utf8proc_map(s + i, (utf8proc_ssize_t)(j - i), &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (m < 0) { /* cannot happen on valid UTF-8; keep the bytes */
                for (size_t k = i; k < j; k++) arrput(buf, s[k]);
            } else {
                for (utf8proc_ssize_t k = 0; k < m; k++) arrput(buf, nfc[k]);
            }
            free(nfc);
        }
        if (j < len) arrput(buf, s[j++]); /* one invalid byte */
        i = j;
    }
    int rc = split_added(t, buf, (size_t)arrlen(buf), true, encode_normalized, ids, e);
    arrfree(buf);
    return rc;
}

int tok_encode(struct tokenizer *t, const char *text, size_t len, int32_t **ids_out, int *n, struct hr_error *e)
{
    int32_t *ids = NULL;
    /* Added tokens that match the raw text are cut out before normalising. */
    int rc = split_added(t, (const unsigned char *)text, len, false, normalize_then_encode, &ids, e);
    if (rc != 0) {
        arrfree(ids);
        return -1;
    }
    *n = (int)arrlen(ids);
    *ids_out = malloc((size_t)(*n ? *n : 1) * sizeof(int32_t));
    if (*n) memcpy(*ids_out, ids, (size_t)*n * sizeof(int32_t));
    arrfree(ids);
    return 0;
}

int tok_decode(const struct tokenizer *t, const int32_t *ids, int n, char **text, size_t *len, struct hr_error *e)
{
    char *out = NULL; /* stb_ds */
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->num_ids || !t->id_to_token[ids[i]]) {
            arrfree(out);
            return hr_fail(e, "%s: id %d at index %d has no token", t->path, ids[i], i);
        }
        const char *s = t->id_to_token[ids[i]];
        size_t sl = strlen(s);
        if (t->id_is_added[ids[i]]) {
            for (size_t k = 0; k < sl; k++) arrput(out, s[k]);
            continue;
        }
        /* ByteLevel characters back to bytes; a character outside the
         * alphabet stands for itself. */
        for (size_t k = 0; k < sl;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)s + k, (utf8proc_ssize_t)(sl - k), &cp);
            if (m <= 0) m = 1, cp = -1;
            if (cp >= 0 && cp < 324 && t->bl.to_byte[cp] >= 0)
                arrput(out, (char)t->bl.to_byte[cp]);
            else
                for (utf8proc_ssize_t q = 0; q < m; q++) arrput(out, s[k + (size_t)q]);
            k += (size_t)m;
        }
    }
    *len = (size_t)arrlen(out);
    *text = malloc(*len + 1);
    if (*len) memcpy(*text, out, *len);
    (*text)[*len] = '\0';
    arrfree(out);
    return 0;
}
