#!/bin/bash
# hyrecall and llama.cpp side by side on the same weights (bench/llama_cpp/README.md):
#   bash bench/llama_cpp/side_by_side.sh WORK_DIR [CONTEXTS] [ROUNDS] [DECODE_TOKENS] [COMPUTE]
# Makes (once, in WORK_DIR) a Qwen3-1.7B-shape checkpoint of random BF16 weights
# (hyrecall synth), the same weights as GGUF (write_gguf.py) and llama.cpp's
# prebuilt CPU engine from npm; then alternates the two engines ROUNDS times
# at each context (default 512,4096; 3 rounds; 16 decode tokens), same threads
# (2), each engine's first context a 256-token warm-up that is not reported (it
# pays the first touches of the mmapped weights: llama.cpp's load does them
# outside its timings, hyrecall's first context inside). The OpenBLAS variables
# are unset for hyrecall, as for every benchmark here. Prints the median of each
# engine's rounds and the ratios. COMPUTE (f32, the default, or bf16) is
# hyrecall's --compute; llama.cpp's BF16 path rounds activations to bf16 and
# keeps an F16 KV cache whatever it is. Each invocation writes its logs, rounds.jsonl
# and side_by_side.json into a new WORK_DIR/run-DATE-TIME/.
set -euo pipefail
work=${1:?usage: side_by_side.sh WORK_DIR [CONTEXTS] [ROUNDS] [DECODE_TOKENS] [COMPUTE]}
contexts=${2:-512,4096} rounds=${3:-3} decode=${4:-16} compute=${5:-f32} threads=2
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${HYRECALL:-$root/build/hyrecall}
mkdir -p "$work"
work=$(cd "$work" && pwd)
model=$work/qwen3-1.7b gguf=$work/qwen3-1.7b.gguf
if [ ! -d "$work/node/node_modules/node-llama-cpp" ]; then
  mkdir -p "$work/node"
  (cd "$work/node" && npm install --silent --omit=optional --ignore-scripts node-llama-cpp@3.22.1 \
    @node-llama-cpp/linux-x64@3.22.1)
fi
[ -d "$model" ] || "$bin" synth --config "$root/data/configs/qwen3-1.7b.json" --out "$model"
if [ ! -f "$work/tokenizer.json" ]; then
  tar -xJf "$root/data/tokenizers/qwen3/tokenizer.json.tar.xz" -O >"$work/tokenizer.json.part"
  mv "$work/tokenizer.json.part" "$work/tokenizer.json"
fi
[ -f "$gguf" ] || python3 "$root/bench/llama_cpp/write_gguf.py" "$model" "$work/tokenizer.json" "$gguf"
cp "$root/bench/llama_cpp/time_llama.mjs" "$work/node/time_llama.mjs"

run=$work/run-$(date +%Y%m%d-%H%M%S)
mkdir "$run"
log=$run/rounds.jsonl
for r in $(seq 1 "$rounds"); do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" bench -m "$model" --contexts "256,$contexts" \
    --decode-tokens "$decode" --threads $threads --compute "$compute" --json "$run/hyrecall-$r.json" >"$run/hyrecall-$r.log"
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for run in d["runs"][1:]:
    print(json.dumps({"engine": "hyrecall", "round": int(sys.argv[2]), "context": run["context"],
                      "prefill_tokens_per_s": run["prefill_tokens_per_s"],
                      "decode_tokens_per_s": run["decode_tokens_per_s"], "core": d["machine"]["openblas_core"]}))
' "$run/hyrecall-$r.json" "$r" >>"$log"
  (cd "$work/node" && node time_llama.mjs "$gguf" "256,$contexts" "$decode" $threads) >"$run/llama-$r.log" \
    2>"$run/llama-$r.stderr"
  python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for rec in [l for l in lines if "context" in l][1:]:
    rec["round"] = int(sys.argv[2])
    print(json.dumps(rec))
' "$run/llama-$r.log" "$r" >>"$log"
done
python3 - "$log" "$run/side_by_side.json" "$compute" <<'EOF'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
out = []
print(f"{'context':>8} {'engine':>10} {'prefill tok/s':>14} {'decode tok/s':>13}   (median of rounds)")
for n in sorted({r["context"] for r in recs}):
    row = {"context": n}
    for eng in ("hyrecall", "llama.cpp"):
        rs = [r for r in recs if r["engine"] == eng and r["context"] == n]
        row[eng] = {k: statistics.median(r[k] for r in rs) for k in ("prefill_tokens_per_s", "decode_tokens_per_s")}
        row[eng]["rounds"] = len(rs)
        print(f"{n:>8} {eng:>10} {row[eng]['prefill_tokens_per_s']:>14.1f} {row[eng]['decode_tokens_per_s']:>13.2f}")
    for k in ("prefill_tokens_per_s", "decode_tokens_per_s"):
        row["ratio_" + k] = row["hyrecall"][k] / row["llama.cpp"][k]
    print(f"{n:>8} {'ratio':>10} {row['ratio_prefill_tokens_per_s']:>14.2f} {row['ratio_decode_tokens_per_s']:>13.2f}"
          "   (hyrecall / llama.cpp)")
    out.append(row)
json.dump({"rounds": out, "hyrecall_core": recs[0].get("core"), "hyrecall_compute": sys.argv[3]},
          open(sys.argv[2], "w"), indent=1)
EOF
