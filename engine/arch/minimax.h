#ifndef HYRECALL_ARCH_MINIMAX_H
#define HYRECALL_ARCH_MINIMAX_H
#include "engine/arch/arch.h"
extern const struct architecture arch_minimax;
#endif
