#include "niah/cot_arithmetic.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void arithmetic_problem_draw(struct pyrandom *r, struct arithmetic_problem *p)
{
    const int n = (int)pyr_randint(r, 2, 4);
    long xs[4] = {0};
    char ops[3] = {0};
    for (int i = 0; i < n; i++) xs[i] = (long)pyr_randint(r, 1, 99);
    for (int i = 0; i < n - 1; i++) ops[i] = "+-"[pyr_randint(r, 0, 1)];

    int q = snprintf(p->question, sizeof p->question, "Question: %ld", xs[0]);
    for (int i = 1; i < n; i++)
        q += snprintf(p->question + q, sizeof p->question - (size_t)q, " %c %ld", ops[i - 1], xs[i]);
    snprintf(p->question + q, sizeof p->question - (size_t)q, " = ?\nAnswer:");

    long acc = xs[0];
    int s = 0;
    for (int i = 1; i < n; i++) {
        const long next = ops[i - 1] == '+' ? acc + xs[i] : acc - xs[i];
        s += snprintf(p->solution + s, sizeof p->solution - (size_t)s, " %ld %c %ld = %ld.", acc, ops[i - 1], xs[i],
                      next);
        acc = next;
    }
    snprintf(p->solution + s, sizeof p->solution - (size_t)s, " The answer is %ld.", acc);
    p->result = acc;
}

bool arithmetic_answer_correct(const char *generated, long result)
{
    static const char mark[] = "The answer is ";
    const char *at = strstr(generated, mark);
    if (!at) return false;
    at += sizeof mark - 1;
    if (!(isdigit((unsigned char)*at) || (*at == '-' && isdigit((unsigned char)at[1])))) return false;
    char *end;
    const long v = strtol(at, &end, 10);
    return end != at && *end == '.' && v == result;
}
