#!/usr/bin/env bash
# NIAH under MPI: the same predictions and summary as a single process, for
# generated samples (np 3) and for given prompts (np 2).
set -u
bin=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# Under AddressSanitizer, OpenMPI's runtime plugins leave allocations behind at
# exit from libraries already unloaded (no symbols to suppress by): leak
# checking is off for the mpirun runs only; the single-process runs keep it.
mpi=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun --allow-run-as-root --oversubscribe)
command -v mpirun >/dev/null || { echo "FAIL: mpirun not installed"; exit 1; }

mkdir "$tmp/m" && cp "$model"/config.json "$model"/model.safetensors "$tmp/m/"
"$MAKE_TINY_TOKENIZER" "$tmp/m/tokenizer.json"
args=(niah -m "$tmp/m" --tasks S1,MK3 --lengths 2k,3k --samples 2 --depths 0,100 --seed 4 --threads 1)
# One process without prefix reuse against three with it (each worker its own cache).
"$bin" "${args[@]}" --no-prefix-cache --out "$tmp/single" >/dev/null 2>&1 || bad "single-process run"
"${mpi[@]}" -np 3 "$bin" "${args[@]}" --out "$tmp/np3" >"$tmp/np3.log" 2>&1 || { cat "$tmp/np3.log"; bad "np 3 run"; }
grep -q '"processes":	3' "$tmp/np3/summary.json" || grep -q '"processes": 3' "$tmp/np3/summary.json" || bad "summary.json does not record 3 processes"
cmp -s "$tmp/single/predictions.jsonl" "$tmp/np3/predictions.jsonl" || bad "np 3 predictions differ"
cmp -s "$tmp/single/summary.csv" "$tmp/np3/summary.csv" || bad "np 3 summary differs"
# Timings, and the prefix cache (off in the single process).
strip() { grep -v -E '"(elapsed_s|processes|coordination_s|prefix_cache)"' "$1"; }
diff <(strip "$tmp/single/summary.json") <(strip "$tmp/np3/summary.json") >/dev/null || bad "np 3 summary.json differs"
echo "np 3 (prefix reuse per worker): predictions and summaries identical to one process without it"

# Given prompts: dumped once, run under np 2 and alone.
"$bin" niah --dump-prompts -t "$tmp/m/tokenizer.json" --tasks S1 --lengths 2k --samples 3 --seed 8 --out "$tmp/p" >/dev/null || bad "dump"
"$bin" niah -m "$tmp/m" --prompts "$tmp/p/prompts.jsonl" --threads 1 --out "$tmp/given1" >/dev/null 2>&1 || bad "prompts, one process"
"${mpi[@]}" -np 2 "$bin" niah -m "$tmp/m" --prompts "$tmp/p/prompts.jsonl" --threads 1 --out "$tmp/given2" >"$tmp/g2.log" 2>&1 \
  || { cat "$tmp/g2.log"; bad "prompts, np 2"; }
cmp -s "$tmp/given1/predictions.jsonl" "$tmp/given2/predictions.jsonl" || bad "np 2 prompts predictions differ"
cmp -s "$tmp/given1/summary.csv" "$tmp/given2/summary.csv" || bad "np 2 prompts summary differs"
# And the given prompts give what the generator's own run gives.
"$bin" niah -m "$tmp/m" --tasks S1 --lengths 2k --samples 3 --seed 8 --threads 1 --out "$tmp/gen" >/dev/null 2>&1 || bad "generated"
cmp -s "$tmp/gen/predictions.jsonl" "$tmp/given1/predictions.jsonl" || bad "given prompts differ from the generated run"
echo "np 2 with --prompts: identical; given prompts reproduce the generated run"
exit $fail
