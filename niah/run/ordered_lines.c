#include "niah/run/ordered_lines.h"

#include <stdlib.h>

/* A waiting slot whose line the file already holds. */
static char skipped_slot;
#define SKIPPED (&skipped_slot)

int ordered_lines_begin(struct ordered_lines *o, int first, int count)
{
    o->first = first;
    o->count = count;
    o->next = 0;
    o->waiting = calloc((size_t)(count > 0 ? count : 1), sizeof *o->waiting);
    return o->waiting ? 0 : -1;
}

void ordered_lines_skip(struct ordered_lines *o, int place)
{
    o->waiting[place - o->first] = SKIPPED;
}

int ordered_lines_flush(struct ordered_lines *o, FILE *out)
{
    int written = 0;
    for (; o->next < o->count && o->waiting[o->next]; o->next++) {
        if (o->waiting[o->next] != SKIPPED) {
            fputs(o->waiting[o->next], out);
            fputc('\n', out);
            free(o->waiting[o->next]);
            written++;
        }
        o->waiting[o->next] = NULL;
    }
    return written;
}

int ordered_lines_put(struct ordered_lines *o, int place, char *line, FILE *out)
{
    o->waiting[place - o->first] = line;
    return ordered_lines_flush(o, out);
}

bool ordered_lines_done(const struct ordered_lines *o)
{
    return o->next == o->count;
}

void ordered_lines_end(struct ordered_lines *o)
{
    for (int i = 0; o->waiting && i < o->count; i++)
        if (o->waiting[i] != SKIPPED) free(o->waiting[i]);
    free(o->waiting);
    o->waiting = NULL;
}
