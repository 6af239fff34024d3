#include "engine/ops/bf16_gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/ops/dtype.h"

/* oneDNN's CPU engine, one per process, and a stream per OpenMP thread
 * (streams are not to be shared between threads that execute at once). */
#define STREAMS_MAX 256
static dnnl_engine_t engine;
static dnnl_stream_t streams[STREAMS_MAX];
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

/* The matmul of y[n, rows] (row stride ldy) = x[n, k] · Wᵀ, W [rows, k] row-
 * major: oneDNN's weights are [K, N], so W is their "ba" layout (strides 1, k).
 * oneDNN keeps created primitives in its cache, keyed by the shapes, so
 * asking again for a shape seen before is a lookup. */
static dnnl_primitive_t matmul_for(int n, int64_t rows, int64_t k, int64_t ldy, dnnl_memory_desc_t *src,
                                   dnnl_memory_desc_t *wei, dnnl_memory_desc_t *dst)
{
    const dnnl_dims_t sd = {n, k}, ss = {k, 1}, wd = {k, rows}, wst = {1, k}, dd = {n, rows}, ds = {ldy, 1};
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(src, 2, sd, dnnl_bf16, ss), "memory descriptor");
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(wei, 2, wd, dnnl_bf16, wst), "memory descriptor");
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(dst, 2, dd, dnnl_f32, ds), "memory descriptor");
    dnnl_matmul_desc_t md;
    DNNL_CHECK(dnnl_matmul_desc_init(&md, src, wei, NULL, dst), "matmul descriptor");
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL), "matmul primitive descriptor");
    dnnl_primitive_t p;
    DNNL_CHECK(dnnl_primitive_create(&p, pd), "matmul primitive");
    dnnl_primitive_desc_destroy(pd);
    return p;
}

int bf16_gemm_init(struct hr_error *e)
{
    if (engine) return 0;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        return hr_fail(e, "--compute bf16: oneDNN could not make its CPU engine");
    /* Name what oneDNN runs here (for bench and the provenance of a run). */
    dnnl_memory_desc_t s, w, d;
    dnnl_primitive_t p = matmul_for(64, 64, 64, 64, &s, &w, &d);
    const_dnnl_primitive_desc_t pd;
    const char *name = NULL;
    if (dnnl_primitive_get_primitive_desc(p, &pd) == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
        snprintf(isa, sizeof isa, "%s", name);
    dnnl_primitive_destroy(p);
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

void bf16_gemm_nt(const uint16_t *x, int n, const uint16_t *w, int64_t rows, int64_t k_len, float *y, int64_t ldy)
{
    const int me = omp_get_thread_num();
    if (!engine || me >= STREAMS_MAX) {
        fprintf(stderr, "hyrecall: bf16_gemm_nt %s\n", engine ? "on more than 256 threads" : "before bf16_gemm_init");
        exit(1);
    }
    if (!streams[me]) DNNL_CHECK(dnnl_stream_create(&streams[me], engine, dnnl_stream_default_flags), "stream");
    dnnl_memory_desc_t sd, wd, dd;
    dnnl_primitive_t p = matmul_for(n, rows, k_len, ldy, &sd, &wd, &dd);
    dnnl_memory_t src, wei, dst;
    /* oneDNN only reads src and weights; its API takes non-const handles. */
    DNNL_CHECK(dnnl_memory_create(&src, &sd, engine, (void *)x), "memory");
    DNNL_CHECK(dnnl_memory_create(&wei, &wd, engine, (void *)w), "memory");
    DNNL_CHECK(dnnl_memory_create(&dst, &dd, engine, y), "memory");
    const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    DNNL_CHECK(dnnl_primitive_execute(p, streams[me], 3, args), "matmul");
    DNNL_CHECK(dnnl_stream_wait(streams[me]), "matmul");
    dnnl_memory_destroy(src), dnnl_memory_destroy(wei), dnnl_memory_destroy(dst);
    dnnl_primitive_destroy(p);
}
