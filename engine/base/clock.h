/* Wall-clock intervals for progress lines and timings (never for results). */
#ifndef HYRECALL_BASE_CLOCK_H
#define HYRECALL_BASE_CLOCK_H

#include <time.h>

/* Seconds on the monotonic clock (an arbitrary origin: use differences). */
static inline double clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
