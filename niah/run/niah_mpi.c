/* NIAH sweeps over MPI ranks (mpirun, srun). Rank 0 owns the queue and the
 * output files; other ranks only run units. The unit is one sample of one
 * variant: rank 0 sends its prompt, the worker sends back the generated text.
 * Weights, caches and states never travel: every rank maps the checkpoint
 * itself. Predictions are recorded in the same order as a single process
 * writes them, so the files are byte-identical at any process count. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "niah/run/niah_run.h"

#ifdef HYRECALL_MPI
#include <mpi.h>

enum { TAG_UNIT = 1, TAG_RESULT = 2 };

static int mpi_on, rank, size = 1;

static bool launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("SLURM_STEP_ID");
}

void niah_mpi_init(int *argc, char ***argv)
{
    if (!launched_by_mpi()) return;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    mpi_on = 1;
}

void niah_mpi_finalize(void)
{
    if (mpi_on) MPI_Finalize();
}

int niah_mpi_rank(void)
{
    return rank;
}
int niah_mpi_size(void)
{
    return size;
}

/* A unit message: {variant, slot, prompt bytes}; slot -1 means stop. */
static void send_unit(int to, int vi, int slot, const char *prompt)
{
    const int len = prompt ? (int)strlen(prompt) : 0;
    int head[3] = {vi, slot, len};
    MPI_Send(head, 3, MPI_INT, to, TAG_UNIT, MPI_COMM_WORLD);
    if (len) MPI_Send(prompt, len, MPI_CHAR, to, TAG_UNIT, MPI_COMM_WORLD);
}

static int by_length_desc(const void *a, const void *b)
{
    const struct unit *x = *(const struct unit *const *)a, *y = *(const struct unit *const *)b;
    if (x->s->n_tokens != y->s->n_tokens) return x->s->n_tokens > y->s->n_tokens ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int niah_mpi_dispatch(struct run_context *c, int vi, struct unit *units, int n, struct hr_error *e)
{
    /* Longest prompts first: the slowest units start early, the tail is short.
     * With prefix reuse the units come in niah_prefix_order's order (longest
     * first too), which stays: each worker then gets a run of samples whose
     * shared beginnings shrink, and reuses them as one process does. */
    struct unit **queue = malloc((size_t)n * sizeof *queue);
    for (int i = 0; i < n; i++) queue[i] = &units[i];
    if (!niah_prefix_reuse(c->o)) qsort(queue, (size_t)n, sizeof *queue, by_length_desc);
    c->variant = c->o->variants[vi].name;
    int sent = 0, received = 0, rc = 0;
    for (int w = 1; w < size && sent < n; w++, sent++)
        send_unit(w, vi, (int)(queue[sent] - units), queue[sent]->s->prompt);
    while (received < sent) {
        int head[2];
        MPI_Status st;
        MPI_Recv(head, 2, MPI_INT, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &st);
        char *pred = malloc((size_t)head[1] + 1);
        if (head[1] > 0)
            MPI_Recv(pred, head[1], MPI_CHAR, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        pred[head[1] > 0 ? head[1] : 0] = '\0';
        received++;
        /* Coordination: what rank 0 does per unit (score, write, send), not its waiting. */
        double t0 = clock_seconds();
        if (head[0] < 0) { /* the worker failed: its message is the text */
            if (rc == 0) rc = hr_fail(e, "rank %d: %s", st.MPI_SOURCE, pred);
        } else if (rc == 0) {
            rc = niah_record(c, &units[head[0]], pred, e);
        }
        free(pred);
        if (rc == 0 && sent < n) {
            send_unit(st.MPI_SOURCE, vi, (int)(queue[sent] - units), queue[sent]->s->prompt);
            sent++;
        }
        c->coordination_seconds += clock_seconds() - t0;
    }
    free(queue);
    return rc;
}

int niah_mpi_worker(struct run_context *c, struct hr_error *e)
{
    for (;;) {
        int head[3];
        MPI_Recv(head, 3, MPI_INT, 0, TAG_UNIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (head[1] < 0) return 0;
        char *prompt = malloc((size_t)head[2] + 1);
        if (head[2]) MPI_Recv(prompt, head[2], MPI_CHAR, 0, TAG_UNIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        prompt[head[2]] = '\0';
        char *pred = NULL;
        int rc = niah_load_variant(c, head[0], e);
        if (rc == 0) rc = niah_infer(c, prompt, &pred, e);
        free(prompt);
        const char *reply = rc == 0 ? pred : e->msg;
        int out[2] = {rc == 0 ? head[1] : -1, (int)strlen(reply)};
        MPI_Send(out, 2, MPI_INT, 0, TAG_RESULT, MPI_COMM_WORLD);
        if (out[1]) MPI_Send(reply, out[1], MPI_CHAR, 0, TAG_RESULT, MPI_COMM_WORLD);
        free(pred);
    }
}

void niah_mpi_stop_workers(void)
{
    for (int w = 1; w < size; w++) send_unit(w, 0, -1, NULL);
}

#else /* built without MPI: always one process */

void niah_mpi_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
}
void niah_mpi_finalize(void) {}
int niah_mpi_rank(void)
{
    return 0;
}
int niah_mpi_size(void)
{
    return 1;
}
int niah_mpi_dispatch(struct run_context *c, int vi, struct unit *units, int n, struct hr_error *e)
{
    (void)c, (void)vi, (void)units, (void)n;
    return hr_fail(e, "built without MPI");
}
int niah_mpi_worker(struct run_context *c, struct hr_error *e)
{
    (void)c;
    return hr_fail(e, "built without MPI");
}
void niah_mpi_stop_workers(void) {}

#endif
