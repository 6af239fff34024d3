/* Loading and validating tokenizer.json. Every component is checked against
 * what is implemented; anything else is an error naming the field. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"
#include "stb_ds.h"
#include "tokenizer/tokenizer_internal.h"

/* GPT-2's pre-tokenisation regex (ByteLevel with use_regex). */
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct loader {
    struct tokenizer *t;
    struct hr_error *e;
};

static pcre2_code *compile_regex(struct loader *L, const char *pattern, size_t len, const char *field)
{
    int code;
    PCRE2_SIZE at;
    /* UTF mode with Unicode properties for \s, \w, \d; MATCH_INVALID_UTF so
     * that invalid UTF-8 input is skipped over, not an error. */
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        hr_fail(L->e, "%s: field '%s': regex does not compile at offset %zu: %s", L->t->path, field, (size_t)at,
                (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; falls back to the interpreter */
    return re;
}

/* Escapes a literal string for PCRE2 (Split with {"String": ...}). */
static char *quote_literal(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 5);
    snprintf(out, n + 5, "\\Q%s\\E", s);
    return out;
}

static int load_split(struct loader *L, const cJSON *pt, const char *field)
{
    const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
    const cJSON *invert = cJSON_GetObjectItemCaseSensitive(pt, "invert");
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
    if (!cJSON_IsString(behavior) || strcmp(behavior->valuestring, "Isolated") != 0)
        return hr_fail(L->e, "%s: field '%s.behavior' is %s; only Isolated is supported", L->t->path, field,
                       cJSON_IsString(behavior) ? behavior->valuestring : "missing");
    if (cJSON_IsTrue(invert)) return hr_fail(L->e, "%s: field '%s.invert' true is not supported", L->t->path, field);
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pattern, "Regex");
    const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pattern, "String");
    struct pretok_step step = {.kind = PRETOK_SPLIT};
    if (cJSON_IsString(re)) {
        step.re = compile_regex(L, re->valuestring, strlen(re->valuestring), field);
    } else if (cJSON_IsString(lit)) {
        char *q = quote_literal(lit->valuestring);
        step.re = compile_regex(L, q, strlen(q), field);
        free(q);
    } else {
        return hr_fail(L->e, "%s: field '%s.pattern' must hold a Regex or a String", L->t->path, field);
    }
    if (!step.re) return -1;
    arrput(L->t->steps, step);
    return 0;
}

static int load_byte_level(struct loader *L, const cJSON *pt, const char *field)
{
    struct pretok_step step = {.kind = PRETOK_BYTE_LEVEL};
    step.add_prefix_space = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space"));
    const cJSON *use_regex = cJSON_GetObjectItemCaseSensitive(pt, "use_regex");
    if (!use_regex || cJSON_IsTrue(use_regex)) { /* the library's default is true */
        step.re = compile_regex(L, GPT2_PATTERN, sizeof GPT2_PATTERN - 1, field);
        if (!step.re) return -1;
    }
    arrput(L->t->steps, step);
    return 0;
}

static int load_pre_tokenizer(struct loader *L, const cJSON *pt, const char *field)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pt, "type");
    if (!cJSON_IsString(type)) return hr_fail(L->e, "%s: field '%s.type' missing", L->t->path, field);
    if (strcmp(type->valuestring, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (!cJSON_IsArray(list)) return hr_fail(L->e, "%s: field '%s.pretokenizers' is not a list", L->t->path, field);
        int i = 0;
        for (const cJSON *it = list->child; it; it = it->next, i++) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", field, i);
            if (load_pre_tokenizer(L, it, sub)) return -1;
        }
        return 0;
    }
    if (strcmp(type->valuestring, "Split") == 0) return load_split(L, pt, field);
    if (strcmp(type->valuestring, "ByteLevel") == 0) return load_byte_level(L, pt, field);
    return hr_fail(L->e, "%s: field '%s.type' is '%s'; supported: Sequence, Split, ByteLevel", L->t->path, field,
                   type->valuestring);
}

static int load_normalizer(struct loader *L, const cJSON *n, const char *field)
{
    if (!n || cJSON_IsNull(n)) return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(n, "type");
    if (!cJSON_IsString(type)) return hr_fail(L->e, "%s: field '%s.type' missing", L->t->path, field);
    if (strcmp(type->valuestring, "NFC") == 0) {
        L->t->nfc = true;
        return 0;
    }
    if (strcmp(type->valuestring, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(list)) return hr_fail(L->e, "%s: field '%s.normalizers' is not a list", L->t->path, field);
        int i = 0;
        for (const cJSON *it = list->child; it; it = it->next, i++) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", field, i);
            if (load_normalizer(L, it, sub)) return -1;
        }
        return 0;
    }
    return hr_fail(L->e, "%s: field '%s.type' is '%s'; supported: NFC, Sequence", L->t->path, field, type->valuestring);
}

static int load_decoder(struct loader *L, const cJSON *d)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "ByteLevel") != 0)
        return hr_fail(L->e, "%s: field 'decoder.type' is '%s'; supported: ByteLevel", L->t->path,
                       cJSON_IsString(type) ? type->valuestring : "missing");
    return 0;
}

static int set_id(struct loader *L, int32_t id, const char *token, bool added, const char *field)
{
    struct tokenizer *t = L->t;
    if (id < 0 || id >= t->num_ids) return hr_fail(L->e, "%s: field '%s': id %d out of range", t->path, field, id);
    if (t->id_to_token[id] && !added)
        return hr_fail(L->e, "%s: field '%s': id %d is given to two tokens", t->path, field, id);
    if (t->id_to_token[id]) free(t->id_to_token[id]); /* an added token may restate a vocabulary entry */
    t->id_to_token[id] = strdup(token);
    t->id_is_added[id] = added;
    return 0;
}

static int load_vocab_and_added(struct loader *L, const cJSON *model, const cJSON *added)
{
    struct tokenizer *t = L->t;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) return hr_fail(L->e, "%s: field 'model.vocab' missing or not an object", t->path);
    int32_t max_id = -1;
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e8 ||
            it->valuedouble != (int32_t)it->valuedouble)
            return hr_fail(L->e, "%s: field 'model.vocab[\"%s\"]' is not a non-negative integer id", t->path,
                           it->string);
        if (it->valueint > max_id) max_id = it->valueint;
    }
    if (added && !cJSON_IsArray(added)) return hr_fail(L->e, "%s: field 'added_tokens' is not a list", t->path);
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8 || !cJSON_IsString(content) ||
            !content->valuestring[0])
            return hr_fail(L->e, "%s: field 'added_tokens': an entry lacks a valid 'id' or non-empty 'content'",
                           t->path);
        if (id->valueint > max_id) max_id = id->valueint;
    }
    t->num_ids = max_id + 1;
    t->id_to_token = calloc((size_t)t->num_ids + 1, sizeof *t->id_to_token);
    t->id_is_added = calloc((size_t)t->num_ids + 1, sizeof *t->id_is_added);
    if (!t->id_to_token || !t->id_is_added) return hr_fail(L->e, "%s: out of memory", t->path);
    sh_new_strdup(t->vocab);
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (shgeti(t->vocab, it->string) >= 0)
            return hr_fail(L->e, "%s: field 'model.vocab': token '%s' appears twice", t->path, it->string);
        shput(t->vocab, it->string, it->valueint);
        if (set_id(L, it->valueint, it->string, false, "model.vocab")) return -1;
    }
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next) {
        struct added_token a = {0};
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        a.content = strdup(content->valuestring);
        a.len = strlen(a.content);
        a.id = cJSON_GetObjectItemCaseSensitive(it, "id")->valueint;
        a.special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
        a.lstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "lstrip"));
        a.rstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "rstrip"));
        a.normalized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "normalized"));
        a.single_word = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "single_word"));
        t->added_first_byte[(unsigned char)a.content[0]] = true;
        arrput(t->added, a);
        if (set_id(L, a.id, a.content, true, "added_tokens")) return -1;
    }
    return 0;
}

static int load_merges(struct loader *L, const cJSON *model)
{
    struct tokenizer *t = L->t;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) return hr_fail(L->e, "%s: field 'model.merges' missing or not a list", t->path);
    int32_t rank = 0;
    char left[1024], right[1024], joined[2048];
    for (const cJSON *it = merges->child; it; it = it->next, rank++) {
        if (cJSON_IsString(it)) { /* "a b" */
            const char *sp = strchr(it->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == it->valuestring || !sp[1] ||
                (size_t)(sp - it->valuestring) >= sizeof left || strlen(sp + 1) >= sizeof right)
                return hr_fail(L->e, "%s: field 'model.merges'[%d] '%s' is not two tokens separated by a space",
                               t->path, rank, it->valuestring);
            memcpy(left, it->valuestring, (size_t)(sp - it->valuestring));
            left[sp - it->valuestring] = '\0';
            strcpy(right, sp + 1);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next) && strlen(it->child->valuestring) < sizeof left &&
                   strlen(it->child->next->valuestring) < sizeof right) { /* ["a", "b"] */
            strcpy(left, it->child->valuestring);
            strcpy(right, it->child->next->valuestring);
        } else {
            return hr_fail(L->e, "%s: field 'model.merges'[%d] is neither \"a b\" nor [\"a\", \"b\"]", t->path, rank);
        }
        snprintf(joined, sizeof joined, "%s%s", left, right);
        ptrdiff_t a = shgeti(t->vocab, left), b = shgeti(t->vocab, right), m = shgeti(t->vocab, joined);
        if (a < 0 || b < 0 || m < 0)
            return hr_fail(L->e, "%s: field 'model.merges'[%d] ('%s' + '%s') names a token not in model.vocab", t->path,
                           rank, left, right);
        uint64_t key = ((uint64_t)(uint32_t)t->vocab[a].value << 32) | (uint32_t)t->vocab[b].value;
        if (hmgeti(t->merges, key) < 0) { /* the first (best-ranked) spelling of a pair wins */
            struct merge mv = {rank, t->vocab[m].value};
            hmput(t->merges, key, mv);
        }
    }
    return 0;
}

static int load_model(struct loader *L, const cJSON *root)
{
    struct tokenizer *t = L->t;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(model) || (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE") != 0)))
        return hr_fail(L->e, "%s: field 'model.type' is '%s'; supported: BPE", t->path,
                       cJSON_IsString(type) ? type->valuestring : "missing");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout))
        return hr_fail(L->e, "%s: field 'model.dropout' must be null (BPE dropout is for training)", t->path);
    const char *empty_fields[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(model, empty_fields[i]);
        if (f && !cJSON_IsNull(f) && !(cJSON_IsString(f) && f->valuestring[0] == '\0'))
            return hr_fail(L->e, "%s: field 'model.%s' is not supported", t->path, empty_fields[i]);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return hr_fail(L->e, "%s: field 'model.byte_fallback' true is not supported", t->path);
    t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    if (load_vocab_and_added(L, model, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"))) return -1;
    if (load_merges(L, model)) return -1;
    /* Byte-level BPE needs a one-character token for every byte. */
    for (int b = 0; b < 256; b++) {
        char ch[3] = {0};
        memcpy(ch, t->bl.utf8[b], t->bl.utf8_len[b]);
        ptrdiff_t i = shgeti(t->vocab, ch);
        if (i < 0)
            return hr_fail(L->e, "%s: field 'model.vocab' lacks the ByteLevel token for byte 0x%02x", t->path, b);
        t->byte_id[b] = t->vocab[i].value;
    }
    return 0;
}

int tok_load(const char *path, struct tokenizer **out, struct hr_error *e)
{
    *out = NULL;
    long len;
    char *text = read_text_file(path, &len, e);
    if (!text) return -1;
    int rc = tok_load_text(path, text, (size_t)len, out, e);
    free(text);
    return rc;
}

int tok_load_text(const char *path, const char *text, size_t len, struct tokenizer **out, struct hr_error *e)
{
    *out = NULL;
    struct tokenizer *t = calloc(1, sizeof *t);
    t->path = strdup(path);
    byte_level_init(&t->bl);
    struct loader L = {t, e};
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = 0;
    if (!root || !cJSON_IsObject(root)) {
        rc = hr_fail(e, "%s: not a JSON object", path);
    } else {
        rc = load_model(&L, root);
        if (rc == 0) rc = load_normalizer(&L, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer");
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
        if (rc == 0 && (!pt || cJSON_IsNull(pt)))
            rc = hr_fail(e, "%s: field 'pre_tokenizer' is missing; byte-level BPE needs a ByteLevel step", path);
        if (rc == 0) rc = load_pre_tokenizer(&L, pt, "pre_tokenizer");
        if (rc == 0 && (arrlen(t->steps) == 0 || t->steps[arrlen(t->steps) - 1].kind != PRETOK_BYTE_LEVEL))
            rc = hr_fail(e, "%s: field 'pre_tokenizer' must end with a ByteLevel step", path);
        for (ptrdiff_t i = 0; rc == 0 && i + 1 < arrlen(t->steps); i++)
            if (t->steps[i].kind == PRETOK_BYTE_LEVEL)
                rc = hr_fail(e, "%s: field 'pre_tokenizer': ByteLevel must be the last step", path);
        if (rc == 0) rc = load_decoder(&L, cJSON_GetObjectItemCaseSensitive(root, "decoder"));
    }
    cJSON_Delete(root);
    if (rc != 0) {
        tok_free(t);
        return -1;
    }
    sh_new_strdup(t->cache);
    *out = t;
    return 0;
}

void tok_free(struct tokenizer *t)
{
    if (!t) return;
    for (int32_t i = 0; t->id_to_token && i < t->num_ids; i++) free(t->id_to_token[i]);
    free(t->id_to_token);
    free(t->id_is_added);
    shfree(t->vocab);
    hmfree(t->merges);
    for (ptrdiff_t i = 0; i < arrlen(t->added); i++) free(t->added[i].content);
    arrfree(t->added);
    for (ptrdiff_t i = 0; i < arrlen(t->steps); i++) pcre2_code_free(t->steps[i].re);
    arrfree(t->steps);
    shfree(t->cache);
    arrfree(t->cache_ids);
    free(t->path);
    free(t);
}

int32_t tok_token_id(const struct tokenizer *t, const char *token)
{
    for (ptrdiff_t i = 0; i < arrlen(t->added); i++)
        if (strcmp(t->added[i].content, token) == 0) return t->added[i].id;
    struct tokenizer *mut = (struct tokenizer *)t; /* stb_ds lookups are not const-clean */
    ptrdiff_t i = shgeti(mut->vocab, token);
    return i >= 0 ? mut->vocab[i].value : -1;
}
