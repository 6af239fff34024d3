#include "niah/niah_haystack.h"

#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/base/files.h"
#include "niah/sha256.h"

/* Python's \s in a str pattern: Unicode whitespace and \x1c-\x1f. */
static size_t whitespace_len(const unsigned char *s, size_t len)
{
    if (*s == ' ' || (*s >= '\t' && *s <= '\r') || (*s >= 0x1c && *s <= 0x1f)) return 1;
    if (*s < 0x80) return 0;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(s, (utf8proc_ssize_t)len, &cp);
    if (n <= 0) return 0;
    if (cp == 0x85) return (size_t)n;
    utf8proc_category_t c = utf8proc_category(cp);
    return (c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP) ? (size_t)n : 0;
}

static const char *const ABBREVIATIONS[] = {
    "mr",  "mrs",  "ms",     "dr",  "st",   "jr",   "sr",  "vs",  "etc", "e.g", "i.e", "no",  "mt",  "prof", "gen",
    "col", "capt", "lt",     "rev", "hon",  "esq",  "viz", "cf",  "ch",  "vol", "fig", "p",   "pp",  "ed",   "co",
    "inc", "ltd",  "messrs", "mme", "mlle", "sept", "oct", "nov", "dec", "jan", "feb", "aug", "u.s", "a.m",  "p.m"};

static bool is_closer(unsigned char c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == '*';
}

bool sentence_break(const char *a, const char *b)
{
    size_t n = strlen(a);
    while (n && is_closer((unsigned char)a[n - 1])) n--;
    /* Curly closing quotes (U+2019, U+201D) are three bytes: E2 80 99 / 9D. */
    while (n >= 3 && (unsigned char)a[n - 3] == 0xE2 && (unsigned char)a[n - 2] == 0x80 &&
           ((unsigned char)a[n - 1] == 0x99 || (unsigned char)a[n - 1] == 0x9D))
        n -= 3;
    if (!n || (a[n - 1] != '.' && a[n - 1] != '!' && a[n - 1] != '?')) return false;
    if (a[n - 1] == '.') {
        /* The word before the period, without opening punctuation, lower-cased. */
        size_t start = 0;
        while (start < n && !isalnum((unsigned char)a[start])) start++;
        char word[32];
        size_t wl = n - 1 > start ? n - 1 - start : 0;
        if (wl < sizeof word) {
            for (size_t i = 0; i < wl; i++) word[i] = (char)tolower((unsigned char)a[start + i]);
            word[wl] = '\0';
            if (wl == 1 && isalpha((unsigned char)word[0])) return false; /* an initial: "J." */
            for (size_t i = 0; i < sizeof ABBREVIATIONS / sizeof *ABBREVIATIONS; i++)
                if (strcmp(word, ABBREVIATIONS[i]) == 0) return false;
        }
    }
    /* The next word starts a sentence: upper-case letter or digit, after any
     * opening quotes or brackets (ASCII or curly). */
    const unsigned char *p = (const unsigned char *)b;
    for (;;) {
        if (*p == '"' || *p == '\'' || *p == '(' || *p == '[' || *p == '_')
            p++;
        else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x9C))
            p += 3;
        else
            break;
    }
    if (!*p) return false;
    if (isdigit(*p) || isupper(*p)) return true;
    utf8proc_int32_t cp;
    if (*p >= 0x80 && utf8proc_iterate(p, -1, &cp) > 0) return utf8proc_category(cp) == UTF8PROC_CATEGORY_LU;
    return false;
}

int essay_load(const char *path, struct essay *es, struct hr_error *e)
{
    memset(es, 0, sizeof *es);
    long len;
    char *raw = read_text_file(path, &len, e);
    if (!raw) return -1;
    sha256_hex((const unsigned char *)raw, (size_t)len, es->sha256);
    const char *text = raw;
    cJSON *json = NULL;
    size_t i0 = 0;
    while (i0 < (size_t)len && isspace((unsigned char)raw[i0])) i0++;
    if (raw[i0] == '{') { /* RULER's essay JSON */
        json = cJSON_ParseWithLength(raw, (size_t)len);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(json, "text");
        if (!cJSON_IsString(t)) {
            cJSON_Delete(json);
            free(raw);
            return hr_fail(e, "%s: a JSON haystack needs a string field 'text'", path);
        }
        text = t->valuestring;
        len = (long)strlen(text);
    }
    /* Collapse whitespace runs to one separator; drop it at both ends. */
    es->text = malloc((size_t)len + 1);
    size_t out = 0;
    int64_t words = 0;
    bool in_space = true;
    for (size_t i = 0; i < (size_t)len;) {
        size_t w = whitespace_len((const unsigned char *)text + i, (size_t)len - i);
        if (w) {
            if (!in_space) es->text[out++] = '\0';
            in_space = true;
            i += w;
        } else {
            if (in_space) words++;
            in_space = false;
            es->text[out++] = text[i++];
        }
    }
    if (!in_space) es->text[out++] = '\0';
    cJSON_Delete(json);
    free(raw);
    if (words == 0) {
        essay_free(es);
        return hr_fail(e, "%s: the haystack holds no words", path);
    }
    es->num_words = words;
    es->words = malloc((size_t)words * sizeof *es->words);
    es->ends_sentence = malloc((size_t)words * sizeof *es->ends_sentence);
    for (size_t i = 0, k = 0; k < (size_t)words; k++) {
        es->words[k] = es->text + i;
        i += strlen(es->text + i) + 1;
    }
    for (int64_t k = 0; k < words; k++) es->ends_sentence[k] = sentence_break(es->words[k], es->words[(k + 1) % words]);
    return 0;
}

void essay_free(struct essay *es)
{
    free(es->text);
    free(es->words);
    free(es->ends_sentence);
    memset(es, 0, sizeof *es);
}
