#ifndef HYRECALL_ARCH_HYPENET_H
#define HYRECALL_ARCH_HYPENET_H
#include "engine/arch/arch.h"
extern const struct architecture arch_hypenet;
#endif
