#!/bin/bash
# A short end-to-end pass of the miniature pipeline on the GPU machine, to
# check the pieces fit before the real runs (tools/miniature/README.md).
set -euo pipefail
export PYTHONUNBUFFERED=1
W=/tmp/mini; mkdir -p $W
cd "$(dirname "$0")"
python3 train.py tokenizer --out $W/tok
python3 train.py base --tokenizer $W/tok/tokenizer.json --out $W/base --steps ${STEPS:-200} --eval-samples 4
python3 train.py sft --base $W/base --out $W/sft --steps 40 --eval-samples 4
python3 train.py golden --model $W/base
tar -C $W -cf $OUT/smoke.tar .
