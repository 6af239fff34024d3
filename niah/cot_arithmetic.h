/* The chain-of-thought check of the miniature reproduction: worked sums of
 * 2-4 numbers in 1..99, as tools/miniature/data.py's arithmetic_problem()
 * writes its SFT data, drawn with CPython's `random` (pyrandom.h) so that the
 * same seed gives the same problems in both:
 *
 *   n = randint(2, 4); xs = [randint(1, 99) for n]; ops = ["+-"[randint(0, 1)] for n-1]
 *   question  "Question: 37 + 48 - 19 = ?\nAnswer:"
 *   solution  " 37 + 48 = 85. 85 - 19 = 66. The answer is 66."
 *
 * A generation is correct when its first "The answer is N." carries the result. */
#ifndef HYRECALL_COT_ARITHMETIC_H
#define HYRECALL_COT_ARITHMETIC_H

#include <stdbool.h>

#include "niah/pyrandom.h"

struct arithmetic_problem {
    char question[128];
    char solution[256];
    long result;
};

void arithmetic_problem_draw(struct pyrandom *r, struct arithmetic_problem *p);
bool arithmetic_answer_correct(const char *generated, long result);

#endif
