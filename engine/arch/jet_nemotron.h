#ifndef HYRECALL_ARCH_JET_NEMOTRON_H
#define HYRECALL_ARCH_JET_NEMOTRON_H
#include "engine/arch/arch.h"
extern const struct architecture arch_jet_nemotron;
#endif
