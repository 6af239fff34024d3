#include "engine/base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hr_fail(struct hr_error *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int hr_wrap(struct hr_error *e, const char *fmt, ...)
{
    if (e) {
        char old[sizeof e->msg];
        memcpy(old, e->msg, sizeof old);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof e->msg) {
            size_t room = sizeof e->msg - (size_t)n - 1, len = strnlen(old, sizeof old - 1);
            memcpy(e->msg + n, old, len < room ? len : room);
            e->msg[n + (len < room ? len : room)] = '\0';
        }
    }
    return -1;
}
