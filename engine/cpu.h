/* Threads and the OpenBLAS kernel choice. */
#ifndef HYRECALL_CPU_H
#define HYRECALL_CPU_H

/* Debian's OpenBLAS 0.3.21 does not know AMD Zen 4/5 and falls back to its
 * Haswell (AVX2) kernels, half the SGEMM speed the CPU's AVX-512 gives. The
 * core is chosen when the library loads, before main(), so the only way to
 * change it is to set OPENBLAS_CORETYPE and re-execute ourselves. This does
 * so once, when the user has not set OPENBLAS_CORETYPE, the CPU has AVX-512
 * (F, BW, DQ, VL) and OpenBLAS picked an older core. Returns only if no
 * re-exec was needed (or it failed, in which case we run on as we are). */
void cpu_select_openblas_core(char **argv);

/* Sets the thread count for OpenMP and OpenBLAS (they share one pool in the
 * OpenMP build of OpenBLAS). n <= 0 keeps the default (all cores). */
void cpu_set_threads(int n);
int cpu_threads(void);

/* The OpenBLAS core in use ("SkylakeX", "Haswell", ...). */
const char *cpu_openblas_core(void);

#endif
