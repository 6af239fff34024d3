/* config.json spellings: transformers 5's rope_parameters and layer_types,
 * and the classic rope_theta / rope_scaling / use_sliding_window /
 * max_window_layers of older Qwen2/Qwen3 checkpoints. */
#include <stdlib.h>
#include <string.h>

#include "engine/arch/arch.h"
#include "engine/load/config.h"
#include "tests/test_util.h"

static int load(const char *json, struct model_config *c, struct hr_error *e)
{
    char *dir = make_temp_dir("cfg"), path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    fputs(json, f);
    fclose(f);
    int rc = arch_config_load(dir, c, &(const struct architecture *){NULL}, e);
    remove_tree(dir);
    free(dir);
    return rc;
}

#define JET_BASE                                                                                                       \
    "\"model_type\":\"jet_nemotron\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":8,"                    \
    "\"num_attention_heads\":8,"
#define BASE                                                                                                           \
    "\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":8,"                           \
    "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,"

int main(void)
{
    struct model_config c;
    struct hr_error e;

    /* Classic spelling: layers >= max_window_layers slide. */
    int rc = load("{" BASE "\"num_hidden_layers\":4,\"rope_theta\":1000000.0,\"use_sliding_window\":true,"
                  "\"sliding_window\":32,\"max_window_layers\":2,\"eos_token_id\":[7,9],"
                  "\"rope_scaling\":{\"type\":\"linear\",\"factor\":4.0}}",
                  &c, &e);
    CHECK(rc == 0, "classic config rejected: %s", e.msg);
    if (rc == 0) {
        CHECK(c.rope_theta == 1e6, "rope_theta %g", c.rope_theta);
        CHECK(c.rope_type == ROPE_LINEAR && c.rope_factor == 4.0, "rope_scaling linear x4 not read");
        CHECK(c.layer_kinds[0] == LAYER_FULL_ATTENTION && c.layer_kinds[1] == LAYER_FULL_ATTENTION &&
                  c.layer_kinds[2] == LAYER_SLIDING_ATTENTION && c.layer_kinds[3] == LAYER_SLIDING_ATTENTION,
              "max_window_layers plan wrong");
        CHECK(c.sliding_window == 32, "window %d", c.sliding_window);
        CHECK(c.num_eos == 2 && c.eos_ids[0] == 7 && c.eos_ids[1] == 9, "eos list not read");
        config_free(&c);
    }

    /* use_sliding_window false: no layer slides even with a window given. */
    rc = load("{" BASE "\"num_hidden_layers\":2,\"use_sliding_window\":false,\"sliding_window\":32}", &c, &e);
    CHECK(rc == 0 && c.layer_kinds[0] == LAYER_FULL_ATTENTION && c.layer_kinds[1] == LAYER_FULL_ATTENTION &&
              c.sliding_window == 0,
          "use_sliding_window=false still slides");
    if (rc == 0) config_free(&c);

    /* transformers 5: rope_parameters (wins over a stale top-level theta), partial rotary. */
    rc = load("{" BASE "\"num_hidden_layers\":1,\"rope_theta\":5.0,\"rope_parameters\":{\"rope_theta\":"
              "10000.0,\"rope_type\":\"default\",\"partial_rotary_factor\":0.25}}",
              &c, &e);
    CHECK(rc == 0 && c.rope_theta == 10000.0 && c.rotary_dim == 4 && c.rope_type == ROPE_DEFAULT,
          "rope_parameters not read (theta %g, rotary %d)", c.rope_theta, c.rotary_dim);
    if (rc == 0) config_free(&c);

    /* head_dim defaults to hidden / heads; kv heads to heads. */
    rc = load("{\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":8,"
              "\"num_attention_heads\":8,\"num_hidden_layers\":1}",
              &c, &e);
    CHECK(rc == 0 && c.head_dim == 8 && c.num_kv_heads == 8, "defaults wrong");
    if (rc == 0) config_free(&c);
    /* Found by fuzz_config: a window beyond int was converted unchecked. */
    rc = load("{" JET_BASE "\"num_hidden_layers\":1,\"layer_types\":[\"swa\"],\"efficient_attention_config\":"
              "{\"swa\":{\"window_size\":644444444444444444}}}",
              &c, &e);
    CHECK(rc != 0 && strstr(e.msg, "window_size"), "huge window_size accepted");
    if (rc == 0) config_free(&c);
    /* Each family's spellings are its own (its file in engine/arch/): Jet-Nemotron's "swa" and window field... */
    rc = load("{" JET_BASE "\"num_hidden_layers\":2,\"layer_types\":[\"jet\",\"swa\"],"
              "\"efficient_attention_config\":{\"swa\":{\"window_size\":16}}}",
              &c, &e);
    CHECK(rc == 0 && c.layer_kinds[0] == LAYER_LINEAR_ATTENTION && c.layer_kinds[1] == LAYER_SLIDING_ATTENTION &&
              c.sliding_window == 16,
          "jet_nemotron's layer_types / window not read: %s", rc ? e.msg : "");
    if (rc == 0) config_free(&c);
    /* ... are not Qwen3's: the refusal names the family and the names it has. */
    rc = load("{" BASE "\"num_hidden_layers\":1,\"layer_types\":[\"swa\"],\"sliding_window\":16}", &c, &e);
    CHECK(rc != 0 && strstr(e.msg, "'swa'; supported for qwen3: full_attention, sliding_attention, linear_attention"),
          "qwen3 accepted Jet-Nemotron's 'swa': %s", rc ? e.msg : "");
    if (rc == 0) config_free(&c);
    /* MiniMax's attn_type_list and num_local_experts (its expert width is intermediate_size). */
    rc = load("{\"model_type\":\"minimax\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":8,"
              "\"num_attention_heads\":8,\"num_hidden_layers\":2,\"attn_type_list\":[0,1],\"num_local_experts\":4,"
              "\"num_experts_per_tok\":2}",
              &c, &e);
    CHECK(rc == 0 && c.layer_kinds[0] == LAYER_LINEAR_ATTENTION && c.layer_kinds[1] == LAYER_FULL_ATTENTION &&
              c.num_experts == 4 && c.moe_intermediate_size == 8 && c.norm_topk_prob,
          "minimax's attn_type_list / num_local_experts not read: %s", rc ? e.msg : "");
    if (rc == 0) config_free(&c);
    return test_finish("test_config");
}
