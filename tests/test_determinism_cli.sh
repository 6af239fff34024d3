#!/usr/bin/env bash
# Same bits through the CLI, in separate processes: `run --dump` at --threads
# 1, 2, 3 and 5 must write the same tensor bytes and the same logits_sha256,
# under whatever OpenBLAS core the environment selects (this script sets
# nothing). The dump's digests are checked against coreutils' sha256sum: of
# the logits' bytes and of the model's files.
set -u
bin=$1 goldens=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# 600 prompt tokens (over a 512-token micro-batch, past the 64-token windows).
ids=$(awk 'BEGIN { x = 7; for (i = 0; i < 600; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%s%d", (i ? "," : ""), x % 512 } }')

header_len() { od -An -t u8 -N8 "$1" | tr -d ' '; }
tensor_bytes() { tail -c +$((9 + $(header_len "$1"))) "$1"; }
meta() { head -c $((8 + $(header_len "$1"))) "$1" | tail -c +9 | grep -o "\"$2\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

for model in qwen3_swa minimax qwen3_next hypenet jet_nemotron; do
  for t in 1 2 3 5; do
    if ! "$bin" run -m "$goldens/$model" --ids "$ids" -n 8 --threads "$t" --dump "$tmp/$model.$t.safetensors" \
        >/dev/null 2>"$tmp/err"; then
      echo "FAIL: $model --threads $t: $(cat "$tmp/err")"; fail=1; continue
    fi
  done
  ref="$tmp/$model.1.safetensors"
  [ -e "$ref" ] || continue
  sha1=$(meta "$ref" logits_sha256)
  for t in 2 3 5; do
    f="$tmp/$model.$t.safetensors"
    [ -e "$f" ] || continue
    if ! cmp -s <(tensor_bytes "$ref") <(tensor_bytes "$f"); then
      echo "FAIL: $model: --threads 1 and --threads $t wrote different tensors"; fail=1
    elif [ "$(meta "$f" logits_sha256)" != "$sha1" ] || [ -z "$sha1" ]; then
      echo "FAIL: $model: logits_sha256 differs between --threads 1 and $t"; fail=1
    elif [ "$(meta "$f" threads)" != "$t" ]; then
      echo "FAIL: $model: the dump of --threads $t records threads=$(meta "$f" threads)"; fail=1
    fi
  done
  # logits are the second tensor: bytes [12 T, 12 T + 4 T V) of the data (input_ids I32 [600] first).
  own=$(tensor_bytes "$ref" | tail -c +$((600 * 4 + 1)) | head -c $((600 * 512 * 4)) | sha256sum | cut -d' ' -f1)
  [ "$own" = "$sha1" ] || { echo "FAIL: $model: logits_sha256 $sha1 is not the logits' SHA-256 ($own)"; fail=1; }
  weights=$(sha256sum "$goldens/$model/model.safetensors" | cut -d' ' -f1)
  head -c $((8 + $(header_len "$ref"))) "$ref" | grep -q "$weights" ||
    { echo "FAIL: $model: the dump's provenance lacks model.safetensors' SHA-256 $weights"; fail=1; }
  [ "$fail" -eq 0 ] && echo "ok   $model: --threads 1, 2, 3, 5: same tensors, logits_sha256 $sha1 ($(meta "$ref" openblas_core))"
done
[ "$fail" -eq 0 ] && echo "determinism_cli: all checks passed"
exit "$fail"
