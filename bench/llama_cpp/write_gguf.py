"""Writes a GGUF file of a Qwen3 checkpoint (safetensors, BF16 or F32) for
llama.cpp, so that the side-by-side benchmark runs both engines on the same
weights (bench/llama_cpp/README.md). Python's standard library only.

  python3 write_gguf.py MODEL_DIR TOKENIZER_JSON OUT.gguf

Layout: GGUF version 3 (ggml's docs/gguf.md): header, metadata key/values,
tensor infos, then the tensor data aligned to 32 bytes. Matrices keep their
stored type (BF16 = ggml type 30, F32 = 0), rows and columns as stored (GGUF
lists dimensions fastest first, so a [rows, cols] tensor has ne = [cols,
rows]); 1-D weights (the RMSNorm gains) are written as F32, as llama.cpp's
own converter writes them. Tensor names and metadata keys are those of
llama.cpp's LLM_ARCH_QWEN3 (llama-arch.cpp); the vocabulary is the
tokenizer.json's byte-level BPE ('gpt2' model, 'qwen2' pre-tokenizer), padded
to the embedding's rows with unused tokens, as convert_hf_to_gguf.py does."""
import json
import struct
import sys

ALIGN = 32
T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_BF16 = 0, 30
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5
FILE_TYPE_BF16, FILE_TYPE_F32 = 32, 0

LAYER_NAMES = {  # Hugging Face (after model.layers.N.) -> llama.cpp (after blk.N.)
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    if parts[:2] == ["model", "layers"] and ".".join(parts[3:]) in LAYER_NAMES:
        return f"blk.{parts[2]}.{LAYER_NAMES['.'.join(parts[3:])]}"
    sys.exit(f"write_gguf: {hf}: no llama.cpp name for this tensor (a Qwen3 checkpoint is expected)")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
    header.pop("__metadata__", None)
    return header, base


def string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = string(key) + struct.pack("<I", vtype)
    if vtype == T_STRING:
        return out + string(value)
    if vtype == T_ARRAY:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == T_STRING:
            return out + b"".join(string(x) for x in items)
        return out + struct.pack(f"<{len(items)}{'i' if etype == T_INT32 else 'I'}", *items)
    fmt = {T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?"}[vtype]
    return out + struct.pack(fmt, value)


def vocabulary(tokenizer_path, rows):
    t = json.load(open(tokenizer_path, encoding="utf-8"))
    if t["model"]["type"] != "BPE":
        sys.exit(f"write_gguf: {tokenizer_path}: model.type is {t['model']['type']}, BPE expected")
    tokens, types = [None] * rows, [TOKEN_UNUSED] * rows
    for text, i in t["model"]["vocab"].items():
        if i < rows:
            tokens[i], types[i] = text, TOKEN_NORMAL
    for a in t["added_tokens"]:
        if a["id"] < rows:
            tokens[a["id"]], types[a["id"]] = a["content"], TOKEN_CONTROL if a["special"] else TOKEN_USER_DEFINED
    for i in range(rows):
        if tokens[i] is None:
            tokens[i] = f"[PAD{i}]"
    merges = [m if isinstance(m, str) else " ".join(m) for m in t["model"]["merges"]]
    return tokens, types, merges


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model_dir, tok_path, out_path = sys.argv[1:]
    cfg = json.load(open(f"{model_dir}/config.json"))
    if cfg.get("model_type") != "qwen3":
        sys.exit(f"write_gguf: {model_dir}/config.json: model_type is {cfg.get('model_type')}, qwen3 expected")
    st_path = f"{model_dir}/model.safetensors"
    header, data_base = read_safetensors(st_path)
    rows = header["model.embed_tokens.weight"]["shape"][0]
    tokens, types, merges = vocabulary(tok_path, rows)
    any_bf16 = any(h["dtype"] == "BF16" for h in header.values())
    arch = "qwen3"
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    meta = [
        kv("general.architecture", T_STRING, arch),
        kv("general.name", T_STRING, f"hyrecall {model_dir}"),
        kv("general.file_type", T_UINT32, FILE_TYPE_BF16 if any_bf16 else FILE_TYPE_F32),
        kv("general.alignment", T_UINT32, ALIGN),
        kv(f"{arch}.context_length", T_UINT32, cfg["max_position_embeddings"]),
        kv(f"{arch}.embedding_length", T_UINT32, cfg["hidden_size"]),
        kv(f"{arch}.block_count", T_UINT32, cfg["num_hidden_layers"]),
        kv(f"{arch}.feed_forward_length", T_UINT32, cfg["intermediate_size"]),
        kv(f"{arch}.attention.head_count", T_UINT32, cfg["num_attention_heads"]),
        kv(f"{arch}.attention.head_count_kv", T_UINT32, cfg["num_key_value_heads"]),
        kv(f"{arch}.attention.key_length", T_UINT32, head_dim),
        kv(f"{arch}.attention.value_length", T_UINT32, head_dim),
        kv(f"{arch}.rope.freq_base", T_FLOAT32, float(cfg.get("rope_theta", 1e6))),
        kv(f"{arch}.attention.layer_norm_rms_epsilon", T_FLOAT32, float(cfg["rms_norm_eps"])),
        kv("tokenizer.ggml.model", T_STRING, "gpt2"),
        kv("tokenizer.ggml.pre", T_STRING, "qwen2"),
        kv("tokenizer.ggml.tokens", T_ARRAY, (T_STRING, tokens)),
        kv("tokenizer.ggml.token_type", T_ARRAY, (T_INT32, types)),
        kv("tokenizer.ggml.merges", T_ARRAY, (T_STRING, merges)),
        kv("tokenizer.ggml.eos_token_id", T_UINT32, int(cfg.get("eos_token_id") or 151645)),
        kv("tokenizer.ggml.bos_token_id", T_UINT32, int(cfg.get("bos_token_id") or 151643)),
        kv("tokenizer.ggml.add_bos_token", T_BOOL, False),
    ]
    names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    infos, layout, offset = [], [], 0
    for hf in names:
        h = header[hf]
        shape = h["shape"]
        if h["dtype"] not in ("BF16", "F32"):
            sys.exit(f"write_gguf: {st_path}: tensor {hf} has dtype {h['dtype']}; BF16 or F32 expected")
        widen = len(shape) == 1 and h["dtype"] == "BF16"
        gtype = GGML_F32 if (widen or h["dtype"] == "F32") else GGML_BF16
        count = 1
        for d in shape:
            count *= d
        size = count * (4 if gtype == GGML_F32 else 2)
        infos.append(string(gguf_name(hf)) + struct.pack("<I", len(shape)) +
                     struct.pack(f"<{len(shape)}Q", *reversed(shape)) + struct.pack("<IQ", gtype, offset))
        layout.append((hf, h, widen, offset, size))
        offset += (size + ALIGN - 1) // ALIGN * ALIGN
    head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(meta)) + b"".join(meta) + b"".join(infos)
    head += b"\0" * (-len(head) % ALIGN)
    with open(st_path, "rb") as src, open(out_path, "xb") as out:
        out.write(head)
        for hf, h, widen, at, size in layout:
            begin, end = h["data_offsets"]
            src.seek(data_base + begin)
            raw = src.read(end - begin)
            if widen:  # BF16 -> F32: the 16 bits become the high half
                halves = struct.unpack(f"<{len(raw) // 2}H", raw)
                raw = struct.pack(f"<{len(halves)}I", *(x << 16 for x in halves))
            out.write(raw)
            out.write(b"\0" * ((size + ALIGN - 1) // ALIGN * ALIGN - size))
    print(f"wrote {out_path}: {len(infos)} tensors, {len(tokens)} tokens, {len(merges)} merges")


if __name__ == "__main__":
    main()
