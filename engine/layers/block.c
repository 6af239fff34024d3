#include "engine/layers/block.h"

/* One row per enum mixer_kind (engine/model.h). */
const struct block_kind *block_kind(enum mixer_kind k)
{
    switch (k) {
    case MIXER_SOFTMAX_ATTENTION: return &softmax_attention_block;
    case MIXER_LIGHTNING: return &lightning_block;
    case MIXER_GATED_DELTA: return &gated_deltanet_block;
    case MIXER_JET: return &jet_block;
    }
    return &softmax_attention_block; /* unreachable: every kind has a row */
}
