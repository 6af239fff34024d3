#!/bin/bash
# Issue #25's SFT grid on the GPU machine: SFT variants of one base (BASE,
# default data/miniature/base), run side by side on the one GPU, each with the
# quick GPU check at 1K, 4K and 16K (SFT and SFT + QK-Restore). Every result
# goes to $OUT/grid.jsonl as it lands; the KEEP best by the issue's targets
# (rank.py) get a golden fixture and come back as $OUT/NAME.tar.gz. Each run is
# killed after RUN_SECONDS, so that the ranking always happens inside one
# device call (give the runs --steps and --time-limit that fit).
#   OUT=/some/dir bash tools/miniature/device_grid.sh "name:flags" ...
set -uo pipefail
export PYTHONUNBUFFERED=1
BASE=$(realpath ${BASE:-data/miniature/base})
W=/tmp/grid; rm -rf $W; mkdir -p $W
cd "$(dirname "$0")"
for spec in "$@"; do
  name=${spec%%:*} flags=${spec#*:}
  ( timeout ${RUN_SECONDS:-480} python3 train.py sft --base $BASE --out $W/$name --workers ${WORKERS:-2} \
      --eval-samples ${EVAL_SAMPLES:-24} --eval-lengths ${EVAL_LENGTHS:-1024,4096,16384} $flags >$W/$name.log 2>&1 &&
    python3 -c "import json,sys; a=json.load(open('$W/$name/train_args.json')); print(json.dumps({'name':'$name','flags':'$flags','eval':a['eval'],'last':a['log'][-1]}))" >>$OUT/grid.jsonl
  ) &
done
wait
for f in $W/*.log; do echo "== $f"; grep -v '"step"' $f | tail -3; grep '"step"' $f | tail -1; done
cp $OUT/grid.jsonl $OUT/grid-copy.jsonl 2>/dev/null || true
for name in $(python3 rank.py $OUT/grid.jsonl ${KEEP:-4}); do
  python3 train.py golden --model $W/$name && tar -C $W -czf $OUT/$name.tar.gz $name
done
