#include "engine/ops/bf16_gemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/dtype.h"
#include "engine/ops/workspace.h"

/* oneDNN's CPU engine, one per process, and per thread (workspace_thread())
 * a stream (streams are not to be shared between threads that execute at
 * once) and a few matmul primitives with their memory objects. A primitive
 * is made for one shape and layout; asking oneDNN for it again costs a
 * descriptor, a cache lookup and three memory objects, which on decode's
 * one-row products was as much as the product (the miniature decoded at
 * 0.7x of float32). So each thread keeps the last CACHED shapes it used and
 * only swaps the data pointers. */
#define THREADS_MAX 256
enum { CACHED = 16 };

struct matmul_shape {
    int64_t m, n, k, lda, b_row, b_col, ldc;
};

struct cached_matmul {
    struct matmul_shape shape;
    dnnl_primitive_t p; /* NULL: an empty way */
    dnnl_memory_t a, b, c;
};

struct thread_cache {
    dnnl_stream_t stream;
    struct cached_matmul ways[CACHED];
    int next; /* the way the next new shape replaces (round robin) */
};

static dnnl_engine_t engine;
static struct thread_cache threads[THREADS_MAX];
static char isa[128] = "none";

static _Noreturn void dnnl_die(const char *what, dnnl_status_t s)
{
    fprintf(stderr, "hyrecall: oneDNN %s failed (status %d, %s)\n", what, (int)s,
            s == dnnl_out_of_memory ? "out of memory" : "see oneDNN's status codes");
    exit(1);
}

#define DNNL_CHECK(call, what)                                                                                         \
    do {                                                                                                               \
        const dnnl_status_t status_ = (call);                                                                          \
        if (status_ != dnnl_success) dnnl_die(what, status_);                                                          \
    } while (0)

/* oneDNN's matmul is dst [m, n] = src [m, k] · weights [k, n], each a 2-D
 * memory descriptor with explicit strides, so both layouts of B are views. */
static void matmul_for(const struct matmul_shape *s, struct cached_matmul *out)
{
    const dnnl_dims_t ad = {s->m, s->k}, as = {s->lda, 1}, bd = {s->k, s->n}, bs = {s->b_row, s->b_col},
                      cd = {s->m, s->n}, cs = {s->ldc, 1};
    dnnl_memory_desc_t a, b, c;
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&a, 2, ad, dnnl_bf16, as), "memory descriptor");
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&b, 2, bd, dnnl_bf16, bs), "memory descriptor");
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&c, 2, cd, dnnl_f32, cs), "memory descriptor");
    dnnl_matmul_desc_t md;
    DNNL_CHECK(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c), "matmul descriptor");
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL), "matmul primitive descriptor");
    DNNL_CHECK(dnnl_primitive_create(&out->p, pd), "matmul primitive");
    dnnl_primitive_desc_destroy(pd);
    /* The handles are set before every execution. */
    DNNL_CHECK(dnnl_memory_create(&out->a, &a, engine, DNNL_MEMORY_NONE), "memory");
    DNNL_CHECK(dnnl_memory_create(&out->b, &b, engine, DNNL_MEMORY_NONE), "memory");
    DNNL_CHECK(dnnl_memory_create(&out->c, &c, engine, DNNL_MEMORY_NONE), "memory");
    out->shape = *s;
}

static void cached_matmul_free(struct cached_matmul *w)
{
    if (!w->p) return;
    dnnl_primitive_destroy(w->p);
    dnnl_memory_destroy(w->a), dnnl_memory_destroy(w->b), dnnl_memory_destroy(w->c);
    w->p = NULL;
}

static struct cached_matmul *matmul_of(struct thread_cache *t, const struct matmul_shape *s)
{
    for (int i = 0; i < CACHED; i++)
        if (t->ways[i].p && memcmp(&t->ways[i].shape, s, sizeof *s) == 0) return &t->ways[i];
    struct cached_matmul *w = &t->ways[t->next];
    t->next = (t->next + 1) % CACHED;
    cached_matmul_free(w);
    matmul_for(s, w);
    return w;
}

int bf16_gemm_init(struct hr_error *e)
{
    if (engine) return 0;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        return hr_fail(e, "--compute bf16: oneDNN could not make its CPU engine");
    /* Name what oneDNN runs here (for bench and the provenance of a run). */
    struct cached_matmul probe;
    matmul_for(&(struct matmul_shape){64, 64, 64, 64, 1, 64, 64}, &probe);
    const_dnnl_primitive_desc_t pd;
    const char *name = NULL;
    if (dnnl_primitive_get_primitive_desc(probe.p, &pd) == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
        snprintf(isa, sizeof isa, "%s", name);
    cached_matmul_free(&probe);
    return 0;
}

const char *bf16_gemm_isa(void)
{
    return isa;
}

void bf16_round(const float *x, int64_t count, uint16_t *out)
{
    for (int64_t i = 0; i < count; i++) out[i] = f32_to_bf16(x[i]);
}

void bf16_gemm(int m, int64_t n, int64_t k, const uint16_t *a, int64_t lda, const uint16_t *b, int64_t b_row,
               int64_t b_col, float *c, int64_t ldc)
{
    const int me = workspace_thread();
    if (!engine || me >= THREADS_MAX) {
        fprintf(stderr, "hyrecall: bf16_gemm %s\n", engine ? "on more than 256 threads" : "before bf16_gemm_init");
        exit(1);
    }
    struct thread_cache *t = &threads[me];
    if (!t->stream) DNNL_CHECK(dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags), "stream");
    const struct matmul_shape s = {m, n, k, lda, b_row, b_col, ldc};
    struct cached_matmul *w = matmul_of(t, &s);
    /* oneDNN only reads A and B; its API takes non-const handles. */
    DNNL_CHECK(dnnl_memory_set_data_handle(w->a, (void *)a), "memory");
    DNNL_CHECK(dnnl_memory_set_data_handle(w->b, (void *)b), "memory");
    DNNL_CHECK(dnnl_memory_set_data_handle(w->c, c), "memory");
    const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, w->a}, {DNNL_ARG_WEIGHTS, w->b}, {DNNL_ARG_DST, w->c}};
    DNNL_CHECK(dnnl_primitive_execute(w->p, t->stream, 3, args), "matmul");
    DNNL_CHECK(dnnl_stream_wait(t->stream), "matmul");
}
