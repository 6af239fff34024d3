#ifndef HYRECALL_ARCH_QWEN3_H
#define HYRECALL_ARCH_QWEN3_H
#include "engine/arch/arch.h"
extern const struct architecture arch_qwen3;
#endif
