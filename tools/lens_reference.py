"""Reference attention probabilities for `hyrecall lens`, from Hugging Face
transformers (eager attention, float32, CPU, output_attentions=True).

  python3 tools/lens_reference.py tests/goldens/qwen3_swa [more model dirs]

For each model directory (a golden of tests/goldens, whose golden.safetensors
holds the prompt) writes MODEL_DIR/lens_reference.safetensors with, for every
softmax-attention layer i and each query position P in POSITIONS (the last prompt
position and one in the middle), tensor `attn.<i>.<P>` F32 [heads, P+1]: row P of
the eager attention matrix over positions 0..P (the prompt is cut after P, as the
lens computes it). Produced on the device machine with transformers 5.17.0 and
torch 2.11.0; tests/test_lens_reference.c compares hyrecall against it.
"""
import os
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM


def main():
    torch.set_default_dtype(torch.float32)
    for model_dir in sys.argv[1:]:
        ids = load_file(os.path.join(model_dir, "golden.safetensors"))["input_ids"].long()
        T = ids.numel()
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                     attn_implementation="eager").eval()
        # The softmax layers, by decoder-layer index: transformers returns one entry per
        # layer (None, or a linear layer's own tensor, for the others) or one per
        # softmax layer only, depending on the model.
        kinds = getattr(model.config, "layer_types", None) or ["full_attention"] * model.config.num_hidden_layers
        softmax = [i for i, k in enumerate(kinds) if k in ("full_attention", "sliding_attention", "attention")]
        out = {}
        for P in (T - 1, T // 2):
            with torch.no_grad():
                res = model(ids[None, : P + 1], output_attentions=True, use_cache=False)
            att = list(res.attentions)
            pairs = zip(softmax, [att[i] for i in softmax] if len(att) == len(kinds) else att)
            for i, a in pairs:
                assert a is not None and a.shape[-1] == P + 1, (model_dir, i, None if a is None else a.shape)
                out[f"attn.{i}.{P}"] = a[0, :, P, :].contiguous().float()
        save_file(out, os.path.join(model_dir, "lens_reference.safetensors"),
                  metadata={"transformers": transformers.__version__, "torch": torch.__version__,
                            "script": "tools/lens_reference.py", "attn_implementation": "eager"})
        print(model_dir, sorted(out), flush=True)


if __name__ == "__main__":
    main()
