#define _GNU_SOURCE
#include "engine/ops/cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

bool cpu_has_avx512(void)
{
    static int cached = -1; /* every thread that races here stores the same answer */
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }
    return cached;
}

void cpu_select_openblas_core(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || !cpu_has_avx512()) return;
    const char *core = openblas_get_corename();
    if (core && (strcasecmp(core, "skylakex") == 0 || strcasecmp(core, "cooperlake") == 0 ||
                 strcasecmp(core, "sapphirerapids") == 0))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);
    /* execv failed: carry on with the core OpenBLAS chose. */
}

void cpu_set_threads(int n)
{
    if (n > 0) omp_set_num_threads(n);
}

int cpu_blas_serial_begin(void)
{
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    return threads;
}

void cpu_blas_serial_end(int threads)
{
    omp_set_num_threads(threads);
}

int cpu_threads(void)
{
    return omp_get_max_threads();
}

const char *cpu_openblas_core(void)
{
    return openblas_get_corename();
}
