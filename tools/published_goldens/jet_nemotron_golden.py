#!/usr/bin/env python3
"""Reference outputs ("golden") for a tiny Jet-Nemotron checkpoint, computed by the *published*
Jet-Nemotron modeling code (NVlabs/Jet-Nemotron, jetai/modeling/hf/, commit 94cbd12) with
flash-linear-attention (fla-org/flash-linear-attention) for the gated delta rule.

Neither is copied into this repository: both are imported at run time from the ignored folder
.published/ at the repository root (see fetch_sources.sh and README.md beside this file).

  python3 tools/published_goldens/jet_nemotron_golden.py MODEL_DIR OUT.safetensors \
      [--ids-from GOLDEN] [--compare GOLDEN] [--device cuda|cpu] [--backend triton|naive] \
      [--triton-f32 ieee|tf32|default]

Same outputs, options and adapter bookkeeping as hypenet_golden.py (whose helpers it uses).
Every forward call passes attention_mask = ones(1, past + new), as transformers' generate() would:
the published code builds wrongly aligned masks when it gets none (see the comment in main()).
With --backend naive the fla kernels the JetBlock calls are replaced by torch code:
chunk/fused_recurrent_gated_delta_rule by fla's naive_recurrent_gated_delta_rule after the
in-kernel L2 normalisation of q and k (x / sqrt(sum x^2 + 1e-6)), and fla's FusedRMSNormGated by
x * rsqrt(mean(x^2) + eps) * weight * silu(g). The dynamic convolution runs as the checkpoint's
config says (dconv_implementation).
"""
import importlib
import inspect
import json
import os
import sys
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hypenet_golden as hg  # noqa: E402  (shared helpers: adapter log, fla import, attn setter)

adapter = hg.adapter
ADAPTERS = hg.ADAPTERS
JET_DIR = os.path.join(hg.PUB, "jet_src", "jetai", "modeling", "hf")
PKG = "published_jet"


def parse_args():
    return hg.golden_arg_parser(__doc__, "gated delta rule and gated RMS norm: fla's triton kernels (as "
                                         "published) or torch references").parse_args()


def shim_library_names():
    import transformers  # noqa: F401
    import transformers.configuration_utils as cu
    if not hasattr(cu, "PretrainedConfig") and hasattr(cu, "PreTrainedConfig"):
        cu.PretrainedConfig = cu.PreTrainedConfig
        adapter("transformers.configuration_utils.PretrainedConfig = PreTrainedConfig (renamed)")

    import transformers.modeling_rope_utils as ru
    if not hasattr(ru, "rope_config_validation"):
        ru.rope_config_validation = lambda *a, **k: None
        adapter("transformers.modeling_rope_utils.rope_config_validation missing: no-op")
    if not hasattr(ru, "dynamic_rope_update"):
        ru.dynamic_rope_update = lambda f: f
        adapter("transformers.modeling_rope_utils.dynamic_rope_update missing: identity decorator")
    if "default" not in ru.ROPE_INIT_FUNCTIONS:
        import torch

        def _compute_default_rope_parameters(config=None, device=None, seq_len=None, **kw):
            base = config.rope_theta
            partial_rotary_factor = getattr(config, "partial_rotary_factor", 1.0)
            head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
            dim = int(head_dim * partial_rotary_factor)
            inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim))
            return inv_freq, 1.0

        ru.ROPE_INIT_FUNCTIONS["default"] = _compute_default_rope_parameters
        adapter("transformers ROPE_INIT_FUNCTIONS lacks 'default': added transformers 4.5x "
                "_compute_default_rope_parameters (inv_freq = 1/theta^(2i/head_dim), scaling 1.0)")

    import transformers.utils as tu

    def doc_decorator(*a, **k):
        return lambda f: f

    for name in ("add_start_docstrings", "add_start_docstrings_to_model_forward", "replace_return_docstrings"):
        if not hasattr(tu, name):
            setattr(tu, name, doc_decorator)
            adapter(f"transformers.utils.{name} missing: identity decorator (docstrings only)")
    if not hasattr(tu, "can_return_tuple"):
        tu.can_return_tuple = lambda f: f
        adapter("transformers.utils.can_return_tuple missing: identity (the published file defines its own)")
    try:
        import transformers.utils.deprecation as dep
        if not hasattr(dep, "deprecate_kwarg"):
            raise ImportError
    except ImportError:
        m = types.ModuleType("transformers.utils.deprecation")
        m.deprecate_kwarg = lambda *a, **k: (lambda f: f)
        sys.modules["transformers.utils.deprecation"] = m
        adapter("transformers.utils.deprecation.deprecate_kwarg missing: identity decorator")


def import_jet():
    def fresh():
        for k in [k for k in sys.modules if k == PKG or k.startswith(PKG + ".")]:
            del sys.modules[k]
        pkg = types.ModuleType(PKG)
        pkg.__path__ = [JET_DIR]
        sys.modules[PKG] = pkg

    names = ("modeling_jet_nemotron", "configuration_jet_nemotron", "jet_block")
    fresh()
    try:
        return [importlib.import_module(PKG + "." + n) for n in names]
    except Exception:
        traceback.print_exc()
        import transformers.utils as tu
        import transformers.modeling_rope_utils as ru
        for name in ("add_start_docstrings", "add_start_docstrings_to_model_forward", "replace_return_docstrings"):
            setattr(tu, name, lambda *a, **k: (lambda f: f))
        ru.dynamic_rope_update = lambda f: f
        adapter("import retry: transformers docstring decorators and dynamic_rope_update made identities "
                "(docstrings / dynamic RoPE only; rope_type here is 'default')")
        fresh()
        return [importlib.import_module(PKG + "." + n) for n in names]


def adapt_norm(jb, naive):
    import torch
    import torch.nn.functional as F
    base = jb.FusedRMSNormGated
    takes_interval = "autotune_interval" in inspect.signature(base.__init__).parameters
    if takes_interval and not naive:
        return

    class RMSNormGated(base):
        def __init__(self, *a, autotune_interval=None, **k):
            if takes_interval:
                k["autotune_interval"] = autotune_interval
            super().__init__(*a, **k)

        if naive:
            def forward(self, x, g, residual=None, prenorm=False, residual_in_fp32=False):
                assert residual is None and not prenorm and self.activation in ("swish", "silu")
                xf = x.float()
                y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()
                return (y * F.silu(g.float())).to(x.dtype)

    RMSNormGated.__name__ = base.__name__
    jb.FusedRMSNormGated = RMSNormGated
    if not takes_interval:
        adapter("fla.modules.FusedRMSNormGated (this fla) takes no autotune_interval argument: the JetBlock's "
                "o_norm is built through a subclass that drops it (a kernel autotuning hint only)")
    if naive:
        adapter("gated RMS norm in torch: x * rsqrt(mean(x^2) + eps) * weight * silu(g), float32 "
                "(fla's FusedRMSNormGated math, swish activation, norm before gate)")


def use_naive_gdr(jb):
    import torch
    from fla.ops.gated_delta_rule.naive import naive_recurrent_gated_delta_rule

    def l2(x):
        x = x.float()
        return x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-6)

    def gdr(q, k, v, g=None, beta=None, scale=None, initial_state=None, output_final_state=False,
            use_qk_l2norm_in_kernel=False, cu_seqlens=None, **kw):
        if use_qk_l2norm_in_kernel:
            q, k = l2(q), l2(k)
        if cu_seqlens is None:
            return naive_recurrent_gated_delta_rule(q, k, v, beta, g, scale=scale, initial_state=initial_state,
                                                    output_final_state=output_final_state)
        assert q.shape[0] == 1
        cu = cu_seqlens.tolist()
        os_, hs = [], []
        for i in range(len(cu) - 1):
            s, e = cu[i], cu[i + 1]
            h0 = initial_state[i:i + 1] if initial_state is not None else None
            o, h = naive_recurrent_gated_delta_rule(q[:, s:e], k[:, s:e], v[:, s:e], beta[:, s:e], g[:, s:e],
                                                    scale=scale, initial_state=h0,
                                                    output_final_state=output_final_state)
            os_.append(o)
            hs.append(h)
        return torch.cat(os_, 1), (torch.cat(hs, 0) if output_final_state else None)

    jb.chunk_gated_delta_rule = gdr
    jb.fused_recurrent_gated_delta_rule = gdr
    adapter("gated delta rule by fla's naive reference: chunk_gated_delta_rule and "
            "fused_recurrent_gated_delta_rule -> fla.ops.gated_delta_rule.naive.naive_recurrent_gated_delta_rule "
            "after q, k <- x / sqrt(sum x^2 + 1e-6) (fla's in-kernel L2 norm), per cu_seqlens segment")


def make_config(cm, d):
    """JetNemotronConfig.from_dict(d), with adapters only where this transformers refuses it."""
    import transformers.configuration_utils as cu
    try:
        return cm.JetNemotronConfig.from_dict(dict(d))
    except Exception as e:
        traceback.print_exc()
        if "layer_types" not in str(e):
            if "rope" not in str(e):
                raise
            cm.rope_config_validation = lambda *a, **k: None
            adapter("JetNemotronConfig construction failed in rope_config_validation: made a no-op")
            return cm.JetNemotronConfig.from_dict(dict(d))
    # transformers 5 validates config.layer_types against its own list of layer kinds, which lacks
    # the published 'jet' / 'attn' / 'swa'.
    extra = tuple(t for t in dict.fromkeys(d["layer_types"]))
    for name, val in list(vars(cu).items()):
        if isinstance(val, (tuple, list, set, frozenset)) and "full_attention" in val and "linear_attention" in val:
            setattr(cu, name, type(val)(tuple(val) + tuple(t for t in extra if t not in val)))
            adapter(f"transformers.configuration_utils.{name} (allowed layer_types) extended by {list(extra)} "
                    "(validation only)")
    try:
        return cm.JetNemotronConfig.from_dict(dict(d))
    except Exception as e:
        traceback.print_exc()
        if "layer_types" not in str(e):
            raise
    kinds = {"jet": "linear_attention", "attn": "full_attention", "swa": "sliding_attention"}
    d2 = dict(d, layer_types=[kinds.get(t, t) for t in d["layer_types"]])
    cfg = cm.JetNemotronConfig.from_dict(d2)
    try:
        cfg.layer_types = list(d["layer_types"])
    except Exception:
        object.__setattr__(cfg, "layer_types", list(d["layer_types"]))
    assert cfg.layer_types == d["layer_types"]
    adapter("JetNemotronConfig built with layer_types spelled as transformers 5 kinds (jet->linear_attention, "
            "attn->full_attention, swa->sliding_attention) to pass its validation, then set back to the "
            f"published {d['layer_types']} before the model is built")
    return cfg


def build_model(mj, cm, model_dir, device):
    import torch
    from safetensors.torch import load_file

    with open(os.path.join(model_dir, "config.json")) as f:
        d = json.load(f)
    d["attn_implementation"] = "sdpa"  # the published JetNemotronModel accepts only sdpa / flash_attention_2
    cfg = make_config(cm, d)
    hg.set_attn(cfg, "sdpa")
    if not hasattr(cfg, "use_return_dict"):
        type(cfg).use_return_dict = property(lambda self: self.return_dict)
        adapter("config.use_return_dict missing (removed from transformers' config): property returning "
                "config.return_dict, read by the published can_return_tuple")
    try:
        model = mj.JetNemotronForCausalLM(cfg)
    except Exception:
        traceback.print_exc()
        mj.JetNemotronForCausalLM._tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
        adapter("JetNemotronForCausalLM._tied_weights_keys given as the dict transformers 5 expects "
                "({'lm_head.weight': 'model.embed_tokens.weight'}) instead of the published list")
        model = mj.JetNemotronForCausalLM(cfg)
    model = model.to(torch.float32)
    sd = load_file(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]
    assert not missing and not unexpected, (missing, unexpected)
    if "lm_head.weight" not in sd:
        assert cfg.tie_word_embeddings
        model.lm_head.weight = model.model.embed_tokens.weight
    print("attn_implementation:", model.config._attn_implementation, flush=True)
    return model.to(device).eval()


class SliceMask:
    """ALL_ATTENTION_FUNCTIONS seen through transformers 4.5x's habit of cutting a 4D mask to the
    key length inside its attention functions."""

    def __init__(self, inner):
        self.inner = inner

    def __getitem__(self, name):
        f = self.inner[name]

        def attn(module, query, key, value, attention_mask, *a, **k):
            if attention_mask is not None and attention_mask.dim() == 4:
                attention_mask = attention_mask[:, :, :, : key.shape[-2]]
            return f(module, query, key, value, attention_mask, *a, **k)

        return attn


def main():
    a = parse_args()
    t0 = time.time()
    torch, _, _ = hg.start_torch(a)

    shim_library_names()
    hg.import_fla()
    mj, cm, jb = import_jet()
    adapt_norm(jb, a.backend == "naive")
    if a.backend == "naive":
        use_naive_gdr(jb)
    dev = torch.device(a.device)
    model = build_model(mj, cm, a.model_dir, dev)
    print(f"imports+build {time.time() - t0:.1f}s", flush=True)
    ids = hg.prompt_ids(a, model.config.vocab_size)

    # Every call passes attention_mask = ones, as transformers' generate() does. Without it the
    # published code sizes its causal mask past+seq+1 wide and then reads its last columns: the
    # JetBlock's unpadding drops the last prompt token and the sliding-window mask is shifted by one
    # position (row 0 of the logits moved by 3.3 in a run without it).
    def ones(n):
        return torch.ones(1, n, dtype=torch.long, device=dev)

    def forward(x, **kw):
        return model(input_ids=x.to(dev)[None], attention_mask=ones(x.numel()), **kw)

    retried = [False]

    def run(x, **kw):
        """The first call may retry with the guarded fallbacks (none fired in the recorded runs)."""
        if retried[0]:
            return forward(x, **kw)
        retried[0] = True
        for _ in range(3):
            try:
                return forward(x, **kw)
            except Exception as e:
                traceback.print_exc()
                msg = str(e)
                if "must match" in msg and not isinstance(mj.ALL_ATTENTION_FUNCTIONS, SliceMask):
                    mj.ALL_ATTENTION_FUNCTIONS = SliceMask(mj.ALL_ATTENTION_FUNCTIONS)
                    adapter("forward retry: the 4D causal mask is cut to the key length before transformers' "
                            "sdpa_attention_forward, as transformers 4.5x's sdpa_attention_forward did itself "
                            "(attention_mask[:, :, :, :key.shape[-2]]); transformers 5 no longer cuts it")
                    continue
                rot = type(model.model.rotary_emb)
                if "rope" in traceback.format_exc() and hasattr(rot.forward, "__wrapped__"):
                    rot.forward = rot.forward.__wrapped__
                    adapter("forward retry: JetNemotronRotaryEmbedding.forward unwrapped from transformers' "
                            "dynamic_rope_update (no effect for rope_type 'default')")
                    continue
                raise
        return forward(x, **kw)

    # Greedy decoding through the published cache (JetNemotronModel makes a JetNemotronCache when
    # use_cache=True and none is given): JetBlocks take their recurrent step, the dynamic
    # convolution its cached step, (sliding-window) attention its KV cache.
    def step(nxt, cache, seen):
        return model(input_ids=nxt.view(1, 1), attention_mask=ones(seen), past_key_values=cache, use_cache=True)

    logits, gen, full = hg.greedy_golden(run, step, ids, a.gen)
    src = hg.published_sources()
    hg.write_golden(a, ids, logits, gen, full, {
        "script": "tools/published_goldens/jet_nemotron_golden.py",
        "model_type": "jet_nemotron",
        "jet_nemotron_commit": src.get("jet_nemotron_commit", "?"),
        "fla_commit": src.get("fla_commit", "?"),
        "gdr_backend": a.backend,
        "attn_implementation": str(model.config._attn_implementation),
    })


if __name__ == "__main__":
    main()
