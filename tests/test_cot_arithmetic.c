/* The arithmetic problems of `hyrecall eval` against the ones the training
 * script draws (tools/miniature/data.py), and the answer check.
 *
 * Expected values printed by CPython 3.11 from tools/miniature/data.py:
 *   r = random.Random(2026); [data.arithmetic_problem(r) for _ in range(6)] */
#include <string.h>

#include "niah/cot_arithmetic.h"
#include "tests/test_util.h"

static const struct {
    const char *question, *solution;
    long result;
} EXPECTED[] = {
    {"Question: 41 + 65 = ?\nAnswer:", " 41 + 65 = 106. The answer is 106.", 106},
    {"Question: 77 - 80 = ?\nAnswer:", " 77 - 80 = -3. The answer is -3.", -3},
    {"Question: 71 - 94 + 99 + 63 = ?\nAnswer:", " 71 - 94 = -23. -23 + 99 = 76. 76 + 63 = 139. The answer is 139.",
     139},
    {"Question: 11 - 15 + 37 - 13 = ?\nAnswer:", " 11 - 15 = -4. -4 + 37 = 33. 33 - 13 = 20. The answer is 20.", 20},
    {"Question: 41 - 27 - 51 - 33 = ?\nAnswer:", " 41 - 27 = 14. 14 - 51 = -37. -37 - 33 = -70. The answer is -70.",
     -70},
    {"Question: 66 - 82 + 10 - 93 = ?\nAnswer:", " 66 - 82 = -16. -16 + 10 = -6. -6 - 93 = -99. The answer is -99.",
     -99},
};

int main(void)
{
    struct pyrandom r;
    pyr_seed(&r, 2026);
    for (size_t i = 0; i < sizeof EXPECTED / sizeof *EXPECTED; i++) {
        struct arithmetic_problem p;
        arithmetic_problem_draw(&r, &p);
        CHECK(strcmp(p.question, EXPECTED[i].question) == 0, "problem %zu question '%s'", i, p.question);
        CHECK(strcmp(p.solution, EXPECTED[i].solution) == 0, "problem %zu solution '%s'", i, p.solution);
        CHECK(p.result == EXPECTED[i].result, "problem %zu result %ld", i, p.result);
        CHECK(arithmetic_answer_correct(p.solution, p.result), "problem %zu: its own solution scored wrong", i);
        CHECK(!arithmetic_answer_correct(p.solution, p.result + 1), "problem %zu: a wrong result scored right", i);
    }
    /* The first "The answer is" counts; the number must end with a full stop. */
    CHECK(arithmetic_answer_correct(" 1 + 2 = 3. The answer is 3.\nQuestion:", 3), "trailing text");
    CHECK(!arithmetic_answer_correct(" The answer is 4. The answer is 3.", 3), "only the first answer counts");
    CHECK(!arithmetic_answer_correct(" The answer is 3", 3), "unterminated answer");
    CHECK(!arithmetic_answer_correct(" The answer is 31.", 3), "prefix of a longer number");
    CHECK(!arithmetic_answer_correct(" The answer is  3.", 3), "space before the number");
    CHECK(arithmetic_answer_correct("The answer is -70.", -70), "negative result");
    CHECK(!arithmetic_answer_correct("no answer", 0), "no answer at all");
    return test_finish("test_cot_arithmetic");
}
