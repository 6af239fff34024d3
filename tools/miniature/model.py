"""HypeNet in PyTorch, written for training the miniature checkpoints.

The same mathematics as hyrecall's engine/arch/hypenet.c and engine/session.c
(which match the published HypeNet code, thunlp/hybrid-linear-attention at
229e301, through tests/goldens/hypenet), in a parallel form suited to a GPU:

  layer      x += mixer(RMSNorm(x));  x += MLP(RMSNorm(x))        (pre-norm)
  MLP        down(silu(gate(x)) * up(x))                            (SwiGLU)
  attn       q, k, v = x Wq, x Wk, x Wv; q, k <- RMSNorm per head; NO position
             encoding (HyPE); with "attn_logits_scaling": "hype A" the query at
             0-based position t is scaled by ln(t + A) / ln(floor A) and rounded
             to bf16 (engine/ops/hype.h); o = softmax(q k^T / sqrt(d) + causal) v;
             o *= sigmoid(x Wg); out = o Wo
  lightning  q, k, v = x Wq, x Wk, x Wv; q, k <- RMSNorm per head, RoPE;
             q /= sqrt(d); o_t = sum_{s<=t} lambda_h^(t-s) (q_t . k_s) v_s with
             lambda_h = exp(-slope_h) (ALiBi slopes); o <- RMSNorm(o over all
             heads) * sigmoid(x Wz); out = o Wo
  head       logits = RMSNorm(x) E^T (tied embeddings)

Parameter names are the published ones, so state_dict() is the checkpoint.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def alibi_slopes(n):
    """ALiBi slopes (Press et al. 2022) as lightning_attn.py's _build_slope_tensor."""
    def power_of_two(m):
        start = 2.0 ** (-8.0 / m)
        return [start ** (i + 1) for i in range(m)]
    if n & (n - 1) == 0:
        return power_of_two(n)
    c = 2 ** math.floor(math.log2(n))
    return power_of_two(c) + power_of_two(2 * c)[0::2][: n - c]


def hf_config(hidden=256, layers=("lightning-attn", "lightning-attn", "attn") * 2, heads=4, kv_heads=2,
              head_dim=64, intermediate=768, vocab=4096, eos=0, max_positions=32768, logits_scaling=None):
    """A config.json in HypeNet's published spelling (fields hyrecall reads, plus model_type)."""
    return {
        "architectures": ["HypeNetForCausalLM"], "model_type": "hypenet",
        "hidden_size": hidden, "num_hidden_layers": len(layers), "mixer_types": list(layers),
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": head_dim,
        "intermediate_size": intermediate, "hidden_act": "silu", "vocab_size": vocab,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
        "max_position_embeddings": max_positions, "tie_word_embeddings": True,
        "attn_use_rope": False, "attn_use_output_gate": True, "attn_logits_scaling": logits_scaling,
        "lightning_nh": heads, "lightning_nkv": heads, "lightning_head_dim": head_dim,
        "lightning_scale": "1/sqrt(d)", "lightning_use_qk_norm": True, "lightning_use_rope": True,
        "lightning_use_output_norm": True, "lightning_use_output_gate": True,
        "lightning_use_short_conv": False,
        "bos_token_id": None, "eos_token_id": eos, "torch_dtype": "bfloat16",
    }


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight.float() * xf).to(x.dtype)


def rope(x, theta):
    """rotate_half RoPE over the whole head dim; x [B, H, T, d]."""
    T, d = x.shape[-2], x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    ang = torch.arange(T, device=x.device, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    xf = x.float()
    x1, x2 = xf[..., : d // 2], xf[..., d // 2:]
    return (xf * cos + torch.cat([-x2, x1], -1) * sin).to(x.dtype)


def lightning_attention(q, k, v, log_decay, chunk=64):
    """o_t = sum_{s<=t} exp(g_h (t-s)) (q_t . k_s) v_s, chunked: within a chunk a
    decay-masked product; across chunks the states U_c = sum_j e^{g(C-1-j)} k_j v_j^T
    combined with weights e^{g C (c-1-c')} (the decay is constant per head, so the
    carried state is a weighted sum, no loop). q, k, v [B, H, T, d], float32."""
    B, H, T, d = q.shape
    pad = (-T) % chunk
    if pad:
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
    n, C = (T + pad) // chunk, chunk
    q, k, v = (t.reshape(B, H, n, C, d) for t in (q, k, v))
    g = log_decay.float().view(H, 1)
    i = torch.arange(C, device=q.device, dtype=torch.float32)
    diff = i[:, None] - i[None, :]
    intra = torch.where(diff >= 0, torch.exp(g[:, :, None] * diff.clamp(min=0)), torch.zeros((), device=q.device))
    o = ((q @ k.transpose(-1, -2)) * intra[None, :, None]) @ v
    U = (k * torch.exp(g * (C - 1 - i)).view(1, H, 1, C, 1)).transpose(-1, -2) @ v   # [B,H,n,d,d]
    c = torch.arange(n, device=q.device, dtype=torch.float32)
    gap = c[:, None] - 1 - c[None, :]                                              # c-1-c'
    W = torch.where(gap >= 0, torch.exp(g[:, :, None] * C * gap.clamp(min=0)), torch.zeros((), device=q.device))
    S = torch.einsum("hab,zhbij->zhaij", W, U)                                      # state before chunk a
    o = o + (q * torch.exp(g * (i + 1)).view(1, H, 1, C, 1)) @ S
    return o.reshape(B, H, n * C, d)[:, :, :T]


def query_scaling_a(spec):
    """A of "hype A" ("hype" alone: 362), None when the config has no scaling;
    the constant form of engine/ops/hype.h is not needed by the miniature."""
    if spec is None:
        return None
    words = spec.split()
    if words[0] != "hype" or len(words) > 2:
        raise ValueError(f"attn_logits_scaling {spec!r}: the miniature trains only 'hype [A]'")
    return float(words[1]) if len(words) == 2 else 362.0


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, H, KV, d = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.H, self.KV, self.d = H, KV, d
        self.q_proj, self.k_proj = nn.Linear(h, H * d, bias=False), nn.Linear(h, KV * d, bias=False)
        self.v_proj, self.o_proj = nn.Linear(h, KV * d, bias=False), nn.Linear(H * d, h, bias=False)
        self.o_gate = nn.Linear(h, H * d, bias=False)
        self.q_norm, self.k_norm = RMSNorm(d, c["rms_norm_eps"]), RMSNorm(d, c["rms_norm_eps"])
        self.hype = query_scaling_a(c.get("attn_logits_scaling"))

    def forward(self, x):
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.H, self.d)).transpose(1, 2)
        if self.hype is not None:  # HyPE: sharper queries further on (engine/ops/hype.h)
            t = torch.arange(T, device=x.device, dtype=torch.float32)
            s = torch.log(t + self.hype) / math.log(math.floor(self.hype))
            q = (q.float() * s.view(1, 1, T, 1)).to(torch.bfloat16).to(q.dtype)
        k = self.k_norm(self.k_proj(x).view(B, T, self.KV, self.d)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.KV, self.d).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        o = o.transpose(1, 2).reshape(B, T, self.H * self.d)
        return self.o_proj(o * torch.sigmoid(self.o_gate(x)))


class Lightning(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, H, d = c["hidden_size"], c["lightning_nh"], c["lightning_head_dim"]
        self.H, self.d, self.theta = H, d, c["rope_theta"]
        self.q_proj, self.k_proj = nn.Linear(h, H * d, bias=False), nn.Linear(h, H * d, bias=False)
        self.v_proj, self.o_proj = nn.Linear(h, H * d, bias=False), nn.Linear(H * d, h, bias=False)
        self.z_proj = nn.Linear(h, H * d, bias=False)
        self.q_norm, self.k_norm = RMSNorm(d, c["rms_norm_eps"]), RMSNorm(d, c["rms_norm_eps"])
        self.o_norm = RMSNorm(H * d, c["rms_norm_eps"])
        self.register_buffer("log_decay", -torch.tensor(alibi_slopes(H), dtype=torch.float32), persistent=False)

    def forward(self, x):
        B, T, _ = x.shape
        q = rope(self.q_norm(self.q_proj(x).view(B, T, self.H, self.d)).transpose(1, 2), self.theta)
        k = rope(self.k_norm(self.k_proj(x).view(B, T, self.H, self.d)).transpose(1, 2), self.theta)
        v = self.v_proj(x).view(B, T, self.H, self.d).transpose(1, 2)
        q = q.float() / math.sqrt(self.d)
        o = lightning_attention(q, k.float(), v.float(), self.log_decay)
        o = o.transpose(1, 2).reshape(B, T, self.H * self.d)
        o = self.o_norm(o).to(x.dtype) * torch.sigmoid(self.z_proj(x))
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, m = c["hidden_size"], c["intermediate_size"]
        self.gate_proj, self.up_proj = nn.Linear(h, m, bias=False), nn.Linear(h, m, bias=False)
        self.down_proj = nn.Linear(m, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c, kind):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c) if kind == "attn" else Lightning(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c, kind) for kind in c["mixer_types"])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class HypeNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.model = Backbone(config)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def hidden(self, ids):
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x)
        return self.model.norm(x)

    def forward(self, ids):
        return F.linear(self.hidden(ids), self.model.embed_tokens.weight)


def save_hf(model, out_dir, dtype=torch.bfloat16):
    """config.json + model.safetensors (weights rounded to dtype)."""
    os.makedirs(out_dir, exist_ok=True)
    sd = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    cfg = dict(model.config, torch_dtype=str(dtype).replace("torch.", ""))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def load_hf(model_dir, device="cpu"):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    m = HypeNet(cfg)
    sd = {k: v.float() for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    m.load_state_dict(sd)
    return m.to(device)
