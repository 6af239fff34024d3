#!/bin/bash
# Step 1 of the miniature pair, on the GPU machine: the tokenizer and the base
# model (retrieval curriculum), its quick GPU check and its golden fixture.
#   OUT=/some/dir [TOKENIZER=tokenizer.json] bash tools/miniature/device_base.sh [extra flags for train.py base]
set -euo pipefail
export PYTHONUNBUFFERED=1
[ -n "${TOKENIZER:-}" ] && TOKENIZER=$(realpath "$TOKENIZER")
W=/tmp/mini; rm -rf $W; mkdir -p $W
cd "$(dirname "$0")"
if [ -n "${TOKENIZER:-}" ]; then  # reuse a tokenizer (the shipped pair's, so bases compare)
  mkdir -p $W/tok && cp "$TOKENIZER" $W/tok/tokenizer.json
else
  python3 train.py tokenizer --out $W/tok
fi
python3 train.py base --tokenizer $W/tok/tokenizer.json --out $W/base --time-limit ${BASE_SECONDS:-400} "$@"
python3 train.py golden --model $W/base
tar -C $W -czf $OUT/base.tar.gz base
