#!/bin/bash
# The miniature reproduction's A/B tables, on a CPU, with hyrecall alone:
#   bash tools/miniature/ab_table.sh OUT_DIR [SAMPLES]
# 1. NIAH S1, S2, S3, MK1 at 1K-32K tokens (seed 1234, SAMPLES a cell, default
#    20): base, SFT and SFT + QK-Restore (restored from base at load time);
# 2. the routing lens on S3 at 1K-16K (seed 4321, 10 samples) with SFT +
#    Procrustes too: heat maps, lens_heads.svg, distance_profile.svg;
# 3. held-out chain-of-thought accuracy of the four (seed 777, 200 problems).
# Writes OUT_DIR/niah, OUT_DIR/lens and OUT_DIR/eval.json and prints the
# tables (data/miniature/README.md holds them). About 47 minutes on 2 cores.
set -euo pipefail
out=${1:?usage: ab_table.sh OUT_DIR [SAMPLES]}
samples=${2:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${HYRECALL:-$root/build/hyrecall}
base=$root/data/miniature/base sft=$root/data/miniature/sft
ab="base=$base,sft=$sft,sft+qk=$sft+qk@$base"
mkdir -p "$out"
start=$(date +%s)
"$bin" niah --compare "$ab" --tasks S1,S2,S3,MK1 --lengths 1k,4k,16k,32k --samples "$samples" --seed 1234 \
  --progress never --out "$out/niah"
"$bin" niah --compare "$ab,sft+procrustes=$sft+procrustes@$base" --tasks S3 --lengths 1k,4k,16k --samples 10 \
  --seed 4321 --lens --progress never --out "$out/lens"
"$bin" eval --compare "$ab,sft+procrustes=$sft+procrustes@$base" --samples 200 --seed 777 --json "$out/eval.json"
echo "ab_table: $(($(date +%s) - start)) s on $(nproc) cores"
