#include "niah/run/progress.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/clock.h"

int progress_parse(const char *text, enum progress_mode *out)
{
    static const char *const names[] = {"auto", "always", "never"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) return *out = (enum progress_mode)i, 0;
    return -1;
}

void progress_begin(struct progress *p, enum progress_mode mode)
{
    p->mode = mode;
    p->live = mode == PROGRESS_AUTO && isatty(STDERR_FILENO);
    p->last_plain = clock_seconds();
}

void progress_sample(struct progress *p, const char *variant, const char *task, int64_t length, int done, int total,
                     int resumed, double tokens_per_s, double elapsed)
{
    if (p->mode == PROGRESS_NEVER) return;
    const double eta = done > resumed ? elapsed / (done - resumed) * (total - done) : 0;
    if (p->live) {
        fprintf(stderr, "\r%s %s @%lld: %d/%d samples, prefill %.0f tokens/s, ETA %.0f s   ", variant, task,
                (long long)length, done, total, tokens_per_s, eta);
        return;
    }
    const double now = clock_seconds();
    if (p->mode == PROGRESS_AUTO && done < total && now - p->last_plain < PROGRESS_PLAIN_SECONDS) return;
    p->last_plain = now;
    fprintf(stderr, "hyrecall niah: %d/%d samples (%s %s @%lld), prefill %.0f tokens/s, elapsed %.0f s, ETA %.0f s\n",
            done, total, variant, task, (long long)length, tokens_per_s, elapsed, eta);
}

void progress_end(struct progress *p)
{
    if (p->live) fputc('\n', stderr);
    p->live = false;
}

static volatile sig_atomic_t stop_flag;

static void on_stop_request(int sig)
{
    if (stop_flag) { /* the second request: now */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_flag = 1;
    static const char msg[] = "\nhyrecall niah: stopping after the sample in flight (press Ctrl-C again to stop now)\n";
    const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
}

void stop_requests_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_request;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool stop_requested(void)
{
    return stop_flag != 0;
}
