/* Threads and the OpenBLAS kernel choice. */
#ifndef HYRECALL_CPU_H
#define HYRECALL_CPU_H

#include <stdbool.h>

/* Whether the CPU has AVX-512 F, BW, DQ and VL: what the hand kernels'
 * AVX-512 forms (matvec.c, exp_row.c) are compiled for. */
bool cpu_has_avx512(void);

/* Debian's OpenBLAS 0.3.21 does not know AMD Zen 4/5 and falls back to its
 * Haswell (AVX2) kernels, half the SGEMM speed the CPU's AVX-512 gives. The
 * core is chosen when the library loads, before main(), so the only way to
 * change it is to set OPENBLAS_CORETYPE and re-execute ourselves. This does
 * so once, when the user has not set OPENBLAS_CORETYPE, the CPU has AVX-512
 * (F, BW, DQ, VL) and OpenBLAS picked an older core. Returns only if no
 * re-exec was needed (or it failed, in which case we run on as we are). */
void cpu_select_openblas_core(char **argv);

/* Sets the OpenMP thread count; n <= 0 keeps the default (all cores). */
void cpu_set_threads(int n);

/* OpenBLAS never splits a call across threads in hyrecall. Its own threading
 * divides the work by the thread count, and under some of its kernels
 * (Haswell) that changes the bits: 1 and 2 threads gave logits up to 1e-4
 * apart. The OpenMP build of OpenBLAS takes its thread count from
 * omp_get_max_threads() at every call (openblas_set_num_threads is undone by
 * the next call: measured) and runs on the calling thread inside an active
 * parallel region. So every OpenBLAS call of the forward pass is made inside
 * one of our parallel regions over fixed blocks (linear() in ops.h, the
 * per-head loops of the mixers), and the rest (restore's SVDs) between
 * cpu_blas_serial_begin(), which returns the thread count it replaces with
 * one, and cpu_blas_serial_end(that count). */
int cpu_blas_serial_begin(void);
void cpu_blas_serial_end(int threads);

int cpu_threads(void);

/* The OpenBLAS core in use ("SkylakeX", "Haswell", ...). */
const char *cpu_openblas_core(void);

#endif
