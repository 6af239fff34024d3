#!/bin/bash
# Step 2 of the miniature pair, on the GPU machine: chain-of-thought SFT of the
# base model (BASE, default .mini/base) for each learning rate in SFT_LRS,
# with the quick GPU check (SFT and SFT + QK-Restore) and a golden fixture.
set -euo pipefail
export PYTHONUNBUFFERED=1
BASE=$(realpath ${BASE:-.mini/base})
W=/tmp/mini; mkdir -p $W
cd "$(dirname "$0")"
STEPS=${SFT_STEPS:-600}
for lr in ${SFT_LRS:-3e-4}; do
  name=sft-lr$lr-s$STEPS
  python3 train.py sft --base $BASE --out $W/$name --lr $lr --steps $STEPS "$@"
  python3 train.py golden --model $W/$name
  tar -C $W -czf $OUT/$name.tar.gz $name
done
