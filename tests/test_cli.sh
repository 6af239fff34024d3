#!/usr/bin/env bash
# The CLI's contract: exit codes, error messages naming the culprit, no
# partial output, and the --dump layout.
set -u
bin=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

expect() { # expect CODE NEEDLE -- command...
  local code=$1 needle=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -ne "$code" ] || ! grep -qF -- "$needle" "$tmp/err" "$tmp/out"; then
    echo "FAIL: '$*' exited $got (want $code), output lacks '$needle':"; cat "$tmp/err"; fail=1
  else
    echo "ok   $code  $*"
  fi
}

expect 0 "usage: hyrecall run" -- "$bin" run --help
expect 0 "usage: hyrecall inspect" -- "$bin" inspect --help
expect 0 "exit codes" -- "$bin" --help
expect 2 "unknown command 'frobnicate'" -- "$bin" frobnicate
expect 2 "unknown option '--bogus'" -- "$bin" run -m "$model" --ids 1 --bogus
expect 2 "-m MODEL_DIR is required" -- "$bin" run --ids 1,2
expect 2 "--ids expects non-negative integer ids" -- "$bin" run -m "$model" --ids 1,x,3
expect 2 "--threads expects an integer" -- "$bin" run -m "$model" --ids 1 --threads 0
expect 1 "outside the vocabulary" -- "$bin" run -m "$model" --ids 1,99999
expect 1 "$tmp/nowhere/config.json: cannot open" -- "$bin" inspect "$tmp/nowhere"
expect 0 "OpenBLAS core" -- "$bin" inspect "$model"

# --dump writes the golden layout; a failed run leaves no file behind.
"$bin" run -m "$model" --ids 1,2,3,4,5 -n 6 --dump "$tmp/ref.safetensors" >"$tmp/ids" || { echo "FAIL: dump run"; fail=1; }
hdr=$(head -c 2000 "$tmp/ref.safetensors" | tr -d '\0')
for want in '"input_ids":{"dtype":"I32","shape":[5]' '"logits":{"dtype":"F32","shape":[5,512]' \
            '"generated_ids":{"dtype":"I32","shape":[6]' '"full_logits_last":{"dtype":"F32","shape":[6,512]' \
            '"format":"hyrecall-reference-v1"'; do
  case "$hdr" in *"$want"*) ;; *) echo "FAIL: dump header lacks $want"; fail=1 ;; esac
done
expect 1 "already exists; refusing to overwrite" -- "$bin" run -m "$model" --ids 1,2 --dump "$tmp/ref.safetensors"
expect 1 "outside the vocabulary" -- "$bin" run -m "$model" --ids 1,77777 --dump "$tmp/bad.safetensors"
[ -e "$tmp/bad.safetensors" ] && { echo "FAIL: partial dump left behind"; fail=1; }
ls "$tmp" | grep -q '\.tmp\.' && { echo "FAIL: temporary file left behind"; fail=1; }
[ "$(wc -w <"$tmp/ids")" -eq 6 ] || { echo "FAIL: run printed $(cat "$tmp/ids")"; fail=1; }
exit $fail
