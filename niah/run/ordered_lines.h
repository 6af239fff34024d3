/* predictions.jsonl in sample order while samples finish in any order: under
 * MPI the ranks return them as they finish (longest first), and a resumed run
 * skips the ones already written. A block of `count` consecutive places is
 * open at a time; a finished line waits until every place before it is
 * written or skipped, then goes out. */
#ifndef HYRECALL_NIAH_ORDERED_LINES_H
#define HYRECALL_NIAH_ORDERED_LINES_H

#include <stdbool.h>
#include <stdio.h>

struct ordered_lines {
    int first, count; /* the open block: places first .. first + count − 1 */
    int next;         /* the first place not yet written */
    char **waiting;   /* [count]: a finished line, SKIPPED, or NULL */
};

/* Opens places first .. first + count − 1. */
int ordered_lines_begin(struct ordered_lines *o, int first, int count);
/* Place `place` is already in the file (a resumed run): nothing to write. */
void ordered_lines_skip(struct ordered_lines *o, int place);
/* Hands over the line of `place` (malloc'd; taken) and writes to out every
 * line that is now next in order. Returns how many were written. */
int ordered_lines_put(struct ordered_lines *o, int place, char *line, FILE *out);
/* Writes what skips made ready (leading skipped places), as put does; out
 * may be NULL while no finished line waits. */
int ordered_lines_flush(struct ordered_lines *o, FILE *out);
/* true when every place of the block is written or skipped. */
bool ordered_lines_done(const struct ordered_lines *o);
/* Closes the block, freeing lines still waiting (a failed run). */
void ordered_lines_end(struct ordered_lines *o);

#endif
