#!/usr/bin/env python3
"""Parameter counts and per-tensor shapes of the published HypeNet and Jet-Nemotron models built from
data/configs/ (no weights: built on torch's meta device), the independent reference for
tests/test_config_plans.c.

  python3 tools/published_goldens/param_counts.py OUT.json

Uses the same published sources (.published/, see fetch_sources.sh) and adapters as the golden
scripts. Tied embeddings are counted once (model.parameters() yields a shared tensor once).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hypenet_golden as hg  # noqa: E402
import jet_nemotron_golden as jg  # noqa: E402

CONFIGS = os.path.join(hg.ROOT, "data", "configs")


def with_pad_token(d):
    """The released configs carry no pad_token_id, which transformers 5 configs no longer default and
    the published models read (nn.Embedding's padding_idx: no effect on shapes)."""
    if "pad_token_id" not in d:
        hg.adapter("config without pad_token_id: pad_token_id = None (embedding padding_idx only)")
        d = dict(d, pad_token_id=None)
    return d


def construct(cls, cfg):
    """cls(cfg), giving _tied_weights_keys as the dict transformers 5 expects if the published list fails."""
    hg.set_attn(cfg, "sdpa")
    try:
        return cls(cfg)
    except Exception:
        cls._tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
        hg.adapter(f"{cls.__name__}._tied_weights_keys as a dict (transformers 5)")
        return cls(cfg)


def hypenet_model(mh, cm, d):
    cfg = cm.HypeNetConfig.from_dict(dict(with_pad_token(d), _attn_implementation="sdpa"))
    return construct(mh.HypeNetForCausalLM, cfg)


def jet_model(mj, cm, d):
    cfg = jg.make_config(cm, dict(with_pad_token(d), attn_implementation="sdpa"))
    return construct(mj.JetNemotronForCausalLM, cfg)


def main():
    import torch
    import transformers
    hg.shim_library_names()
    jg.shim_library_names()
    hg.import_fla()
    mh, hcm, _ = hg.import_hypenet()
    mj, jcm, jb = jg.import_jet()
    jg.adapt_norm(jb, True)
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    for name, build in [("hypenet-2b", lambda d: hypenet_model(mh, hcm, d)),
                        ("hypenet-9b", lambda d: hypenet_model(mh, hcm, d)),
                        ("jet-nemotron-2b", lambda d: jet_model(mj, jcm, d))]:
        with open(os.path.join(CONFIGS, name + ".json")) as f:
            d = json.load(f)
        with torch.device("meta"):
            model = build(d)
        total = sum(p.numel() for p in model.parameters())
        shapes = {n: list(p.shape) for n, p in model.named_parameters()}
        out["models"][name] = {"parameters": total, "tensors": len(shapes)}
        print(name, total, len(shapes), flush=True)
    out["adapters"] = hg.ADAPTERS
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
