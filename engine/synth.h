/* Random-weight checkpoints at real shapes (hyrecall synth), so that speed
 * and memory can be measured without downloads. The tensor list is the one
 * the architecture binds (model_plan); values are drawn deterministically
 * from the seed: matrices N(0, initializer_range), norm weights 1 (0 where
 * the family stores (1 + w)), biases 0, A_log = log U[1, 16], dt_bias the
 * inverse softplus of a step log-uniform in [0.001, 0.1] (as the published
 * models initialise it), convolutions small. The numbers mean nothing; the
 * shapes, the bytes and the size of the decays do. */
#ifndef HYRECALL_SYNTH_H
#define HYRECALL_SYNTH_H

#include <stdint.h>

#include "engine/base/error.h"
#include "engine/ops/dtype.h"

/* Writes OUT_DIR (config.json copied, model.safetensors) atomically; refuses
 * an existing OUT_DIR. dtype: DT_F32 or DT_BF16. */
int synth_checkpoint(const char *config_path, const char *out_dir, enum dtype dtype, uint64_t seed, int64_t *num_params,
                     struct hr_error *e);

#endif
