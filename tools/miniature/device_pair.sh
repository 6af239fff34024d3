#!/bin/bash
# A whole pair in one device call (issue #25): a base (BASE_FLAGS for
# train.py base, the shipped tokenizer) and SFT variants of it side by side
# ("name:flags" arguments, as device_grid.sh), each killed after SFT_SECONDS.
# Everything lands in $OUT as soon as it exists (log.txt, base.tar.gz,
# NAME.tar.gz, grid.jsonl), so a call cut short still returns what it made.
#   OUT=/some/dir BASE_SECONDS=270 BASE_FLAGS="--steps 3300 ..." bash tools/miniature/device_pair.sh "name:flags" ...
set -uo pipefail
export PYTHONUNBUFFERED=1
exec >>$OUT/log.txt 2>&1
TOK=$(realpath data/miniature/base/tokenizer.json)
W=/tmp/pair; rm -rf $W; mkdir -p $W
cd "$(dirname "$0")"
eval "flags=($BASE_FLAGS)"
python3 train.py base --tokenizer $TOK --out $W/base --time-limit ${BASE_SECONDS:-270} "${flags[@]}" | grep -v '"step"' || exit 1
python3 train.py golden --model $W/base && tar -C $W -czf $OUT/base.tar.gz base || exit 1
for spec in "$@"; do
  name=${spec%%:*} sflags=${spec#*:}
  ( timeout ${SFT_SECONDS:-200} python3 train.py sft --base $W/base --out $W/$name --workers ${WORKERS:-3} \
      --eval-samples ${EVAL_SAMPLES:-8} --eval-lengths ${EVAL_LENGTHS:-1024,4096} $sflags >$W/$name.log 2>&1 &&
    python3 -c "import json; a=json.load(open('$W/$name/train_args.json')); print(json.dumps({'name':'$name','flags':'$sflags','eval':a['eval'],'last':a['log'][-1]}))" >>$OUT/grid.jsonl &&
    python3 train.py golden --model $W/$name && tar -C $W -czf $OUT/$name.tar.gz $name
    grep -v '"step"' $W/$name.log | tail -3 ) &
done
wait
echo "device_pair: done"
