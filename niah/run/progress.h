/* What a long niah run says while it runs, and how it stops on Ctrl-C.
 *
 * --progress auto (default): on a terminal one live line (\r), otherwise a
 * plain line at most every PROGRESS_PLAIN_SECONDS and after the last sample,
 * so that logs under nohup, Slurm or 2>log show the run advancing; always: a
 * plain line after every sample; never: nothing.
 *
 * Ctrl-C (SIGINT) or SIGTERM: the sample in flight finishes and is saved,
 * the run stops saying how many samples DIR holds and that running the same
 * command again resumes; a second Ctrl-C stops at once (the finished samples
 * are still saved: each is flushed as it is written). */
#ifndef HYRECALL_NIAH_PROGRESS_H
#define HYRECALL_NIAH_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

enum progress_mode { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER };

#define PROGRESS_PLAIN_SECONDS 10.0

struct progress {
    enum progress_mode mode;
    bool live;         /* a \r line on a terminal */
    double last_plain; /* when the last plain line was written */
};

/* "auto", "always", "never"; -1 for anything else. */
int progress_parse(const char *text, enum progress_mode *out);
void progress_begin(struct progress *p, enum progress_mode mode);
/* After each finished sample: done of total, tokens/s of prefill, ETA. */
void progress_sample(struct progress *p, const char *variant, const char *task, int64_t length, int done, int total,
                     int resumed, double tokens_per_s, double elapsed);
/* Ends a live line before other output. */
void progress_end(struct progress *p);

/* Stop requests (SIGINT, SIGTERM) from now on set a flag instead of killing
 * the process; the second one kills it. */
void stop_requests_catch(void);
bool stop_requested(void);

#endif
