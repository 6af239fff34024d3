#!/bin/bash
# The miniature reproduction's A/B table, on a CPU, with hyrecall alone:
#   bash tools/miniature/ab_table.sh OUT_DIR [SAMPLES]
# base, SFT, SFT + QK-Restore and SFT + Procrustes (both restored from base at
# load time) on NIAH S1, S2, S3 and MK1 at 1K-16K tokens with the routing lens,
# then held-out chain-of-thought accuracy of the same four. Writes OUT_DIR/niah
# (summary.csv, heat maps, lens_heads.svg, distance_profile.svg) and
# OUT_DIR/eval.json, and prints both tables.
set -euo pipefail
out=${1:?usage: ab_table.sh OUT_DIR [SAMPLES]}
samples=${2:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${HYRECALL:-$root/build/hyrecall}
base=$root/data/miniature/base sft=$root/data/miniature/sft
variants="base=$base,sft=$sft,sft+qk=$sft+qk@$base,sft+procrustes=$sft+procrustes-input@$base"
mkdir -p "$out"
start=$(date +%s)
"$bin" niah --compare "$variants" --tasks S1,S2,S3,MK1 --lengths 1k,4k,8k,16k --samples "$samples" --lens \
  --out "$out/niah"
"$bin" eval --compare "$variants" --samples 200 --json "$out/eval.json"
echo "ab_table: $(( $(date +%s) - start )) s on $(nproc) cores"
