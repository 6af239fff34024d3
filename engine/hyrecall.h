/* hyrecall's engine, as the code outside engine/ sees it (the CLI, the NIAH
 * runner, the bench): load a model (optionally with restored weights), run
 * sessions over it, observe them, plan their memory, record provenance.
 * Everything below engine/ (ops, mixers, layers, load, arch) is internal:
 * the layering check (tools/check_layering.sh) refuses includes of it from
 * outside, except engine/base/, which every part of the project may use. */
#ifndef HYRECALL_H
#define HYRECALL_H

#include "engine/arch/arch.h"           /* the architecture a model was read as (name, description) */
#include "engine/build_info.h"          /* version, git commit */
#include "engine/generate.h"            /* greedy generation over a session */
#include "engine/layers/block.h"        /* the block kinds: names, state shapes, weight matrices */
#include "engine/lens.h"                /* the routing lens */
#include "engine/load/safetensors.h"    /* reading and writing safetensors files (dumps) */
#include "engine/memory_plan.h"         /* what a run needs in memory; loading within a limit */
#include "engine/mixers/attention.h"    /* the KV cache: its bytes (bench), decode attention alone */
#include "engine/model.h"               /* a loaded model: config, layer plan, weight views */
#include "engine/observer.h"            /* callbacks at named points of the forward pass */
#include "engine/ops/bf16_gemm.h"       /* whether the CPU has AVX512-BF16 (--compute bf16) */
#include "engine/ops/cpu.h"             /* threads and the OpenBLAS core */
#include "engine/ops/ops.h"             /* linear_set_compute: how projections multiply (--compute) */
#include "engine/prefix_cache.h"        /* prefix reuse across prompts with a shared start */
#include "engine/provenance.h"          /* SHA-256 of builds, models, inputs */
#include "engine/restore/restore.h"     /* QK-Restore and Procrustes patches at load time */
#include "engine/restore/weight_diff.h" /* per-tensor differences of two checkpoints */
#include "engine/session.h"             /* one sequence: caches, states, the decoder */
#include "engine/synth.h"               /* random models at published shapes */
#include "engine/tensor_dump.h"         /* every module's output, by PyTorch name (an observer) */
#include "engine/version.h"

#endif
