#!/usr/bin/env python3
"""The other side of a port's diff: every module's output of a PyTorch model,
under the names `hyrecall run --dump OUT --dump-layers` writes, so that

    hyrecall diff hyrecall_dump.safetensors reference.safetensors

finds the first module where the two implementations part (docs/porting.md).

    python3 tools/dump_reference.py MODEL_DIR --like hyrecall_dump.safetensors --out reference.safetensors
    python3 tools/dump_reference.py MODEL_DIR --ids 1,2,3 --out reference.safetensors [--trust-remote-code]
    python3 tools/dump_reference.py MODEL_DIR --ids 1,2,3 --out ref.safetensors --model-class halo.modeling.hypenet.HypeNetForCausalLM

One parallel pass, no cache, float32 on the CPU (unless --device), with forward hooks on the modules named
    model.embed_tokens, model.layers.N, model.layers.N.self_attn | linear_attn, model.layers.N.mlp, model.norm
(the first element of a module's output when it returns a tuple), F32 [T, hidden], plus input_ids and logits.
--like takes the prompt (input_ids) from a hyrecall dump. --model-class loads published code (on PYTHONPATH)
instead of transformers' AutoModelForCausalLM. Needs torch, transformers and safetensors.
"""
import argparse
import importlib
import json
import re
import struct

import torch
from safetensors.torch import save_file

MODULE_NAMES = re.compile(r"^model\.(embed_tokens|norm|layers\.\d+(\.(self_attn|linear_attn|mlp))?)$")


def ids_from_dump(path):
    """input_ids of a safetensors file (I32 [T]), read without numpy."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        t = header["input_ids"]
        if t["dtype"] != "I32":
            raise SystemExit(f"{path}: input_ids is {t['dtype']}, not I32")
        f.seek(8 + n + t["data_offsets"][0])
        raw = f.read(t["data_offsets"][1] - t["data_offsets"][0])
    return list(struct.unpack(f"<{len(raw) // 4}i", raw))


def load_model(args):
    if args.model_class:
        module, _, cls = args.model_class.rpartition(".")
        model_cls = getattr(importlib.import_module(module), cls)
        model = model_cls.from_pretrained(args.model_dir, torch_dtype=torch.float32)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32,
                                                     trust_remote_code=args.trust_remote_code)
    return model.to(args.device).eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--out", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--ids", help="prompt token ids, comma separated")
    g.add_argument("--like", help="take input_ids from this hyrecall dump")
    p.add_argument("--model-class", help="dotted path of a model class (published code) instead of AutoModel")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    ids = ids_from_dump(args.like) if args.like else [int(x) for x in args.ids.split(",") if x.strip()]
    model = load_model(args)
    captured = {}

    def hook(name):
        def record(module, inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            captured[name] = out.detach().float()[0].cpu().contiguous()  # [T, hidden]
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if MODULE_NAMES.match(name)]
    if not handles:
        raise SystemExit(f"{args.model_dir}: no module named model.embed_tokens, model.layers.N, ... to hook")
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], device=args.device), use_cache=False)
    for h in handles:
        h.remove()
    tensors = {"input_ids": torch.tensor(ids, dtype=torch.int32)}
    tensors.update(captured)
    tensors["logits"] = out.logits.detach().float()[0].cpu().contiguous()
    import transformers

    meta = {"format": "hyrecall-reference-layers-v1", "made_by": f"tools/dump_reference.py, torch {torch.__version__}, "
            f"transformers {transformers.__version__}", "model_dir": args.model_dir, "prompt_len": str(len(ids))}
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out}: {len(captured)} modules, T = {len(ids)}")


if __name__ == "__main__":
    main()
