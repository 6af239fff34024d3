/* Flushing subnormal floats to zero inside the decay kernels.
 *
 * A data-dependent decay e^{Γ_i − Γ_j} (the gated delta rule) can be any
 * small number: a head that forgets fast (g = −10 per token, within a
 * 64-token chunk) makes factors like e^{−300}, and their products with keys
 * and values land below FLT_MIN (1.2e-38) as subnormal floats. The CPU
 * handles those in microcode, many times slower (on a Zen 5, chunk GEMMs
 * 16 times slower: docs/kernel-measurements.md).
 *
 * Such a value is a term decayed by more than 2^{-126} next to terms of size
 * ~1 (each output row keeps its own undecayed diagonal term), far below one
 * float rounding of the sum, so treating it as zero changes nothing a float32
 * result can show. The kernels therefore run with flush-to-zero (results)
 * and denormals-are-zero (operands) on, set per thread inside their parallel
 * regions and restored afterwards, so that every thread computes the same
 * way (same bits at any thread count) and nothing outside is affected.
 * x86-64: MXCSR bits FTZ (15) and DAZ (6); AArch64: FPCR.FZ (bit 24); other
 * CPUs compute with subnormals (slower, equally correct). */
#ifndef HYRECALL_SUBNORMALS_H
#define HYRECALL_SUBNORMALS_H

#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
typedef unsigned int fp_mode;
static inline fp_mode subnormals_flush_begin(void)
{
    const fp_mode saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u);
    return saved;
}
static inline void subnormals_flush_end(fp_mode saved)
{
    _mm_setcsr(saved);
}
#elif defined(__aarch64__)
#include <stdint.h>
typedef uint64_t fp_mode;
static inline fp_mode subnormals_flush_begin(void)
{
    fp_mode saved;
    __asm__ volatile("mrs %0, fpcr" : "=r"(saved));
    __asm__ volatile("msr fpcr, %0" ::"r"(saved | (1ull << 24)));
    return saved;
}
static inline void subnormals_flush_end(fp_mode saved)
{
    __asm__ volatile("msr fpcr, %0" ::"r"(saved));
}
#else
typedef int fp_mode;
static inline fp_mode subnormals_flush_begin(void)
{
    return 0;
}
static inline void subnormals_flush_end(fp_mode saved)
{
    (void)saved;
}
#endif

#endif
