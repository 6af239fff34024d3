#!/usr/bin/env bash
# Every corrupted input through every command that reads it: inspect, run
# and niah for checkpoints and config.json, tokenize and niah for
# tokenizer.json. Each must exit 1 (not 2, not a signal), name the file in its
# one-line message, write no output, and leave its inputs byte-identical.
set -u
bin=$1 loader_test=$2 golden=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
mkdir "$tmp/cases" "$tmp/tok"
"$loader_test" "$golden" --write-cases "$tmp/cases" >/dev/null || { echo "FAIL: case generator"; fail=1; }

# tokenizer.json corruptions, next to a valid model.
printf '{"model": ' >"$tmp/tok/truncated.json"
printf '{"model": {"type": "WordPiece", "vocab": {}}}' >"$tmp/tok/wordpiece.json"
printf '{"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}}' >"$tmp/tok/bad_id.json"
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}}' >"$tmp/tok/bad_merge.json"
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}' >"$tmp/tok/no_bytes.json"
printf '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}' >"$tmp/tok/metaspace.json"

check() { # check LABEL FILE_NEEDLE -- command...
  local label=$1 needle=$2; shift 3
  local before after out="$tmp/out-$RANDOM"
  before=$(find "$tmp/cases" "$tmp/tok" -type f -exec sha256sum {} + | sort)
  "$@" >"$out.stdout" 2>"$out.stderr"
  local code=$?
  after=$(find "$tmp/cases" "$tmp/tok" -type f -exec sha256sum {} + | sort)
  if [ $code -ne 1 ]; then echo "FAIL: $label: exit $code, want 1: $(head -c 300 "$out.stderr")"; fail=1; fi
  if ! grep -qF -- "$needle" "$out.stderr"; then echo "FAIL: $label: message does not name $needle: $(head -c 300 "$out.stderr")"; fail=1; fi
  if [ "$before" != "$after" ]; then echo "FAIL: $label: an input changed"; fail=1; fi
  if [ -e "$tmp/niah-out" ] || [ -e "$tmp/dump.safetensors" ]; then echo "FAIL: $label: output left behind"; fail=1; rm -rf "$tmp/niah-out" "$tmp/dump.safetensors"; fi
  rm -f "$out.stdout" "$out.stderr"
}

n=0
for dir in "$tmp"/cases/*/; do
  dir=${dir%/}
  case_name=$(basename "$dir")
  check "inspect $case_name" "$dir" -- "$bin" inspect "$dir"
  check "run $case_name" "$dir" -- "$bin" run -m "$dir" --ids 1,2,3 -n 2 --dump "$tmp/dump.safetensors"
  check "niah $case_name" "$dir" -- "$bin" niah -m "$dir" -t "$QWEN_TOKENIZER" --tasks S1 --lengths 1k --samples 1 --out "$tmp/niah-out"
  n=$((n + 1))
done
for tok in "$tmp"/tok/*.json; do
  check "tokenize $(basename "$tok")" "$tok" -- "$bin" tokenize -t "$tok" "hello"
  check "niah $(basename "$tok")" "$tok" -- "$bin" niah --dump-prompts -t "$tok" --tasks S1 --lengths 1k --samples 1 --out "$tmp/niah-out"
done
echo "corrupted inputs: $n checkpoint/config cases x (inspect, run, niah) and $(ls "$tmp"/tok | wc -l) tokenizer cases x (tokenize, niah)"
exit $fail
