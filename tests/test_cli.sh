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
expect 0 "usage: hyrecall eval" -- "$bin" eval --help
expect 2 "give exactly one of -m and --compare" -- "$bin" eval --samples 3
expect 2 "--samples expects" -- "$bin" eval -m "$model" --samples 0
expect 1 "tokenizer.json: cannot open" -- "$bin" eval -m "$model" --samples 1
expect 2 "--threads expects an integer" -- "$bin" run -m "$model" --ids 1 --threads -1
expect 1 "outside the vocabulary" -- "$bin" run -m "$model" --ids 1,99999
expect 1 "$tmp/nowhere: no such model directory" -- "$bin" inspect "$tmp/nowhere"
expect 1 "$model/model.safetensors is a file; give the model directory" -- "$bin" run -m "$model/model.safetensors" --ids 1
expect 1 "$tmp/nowhere: no such model directory" -- "$bin" niah -m "$tmp/nowhere" --out "$tmp/nowhere_run"
expect 2 "unknown command 'restor' (did you mean 'restore'?)" -- "$bin" restor
expect 2 "unknown option '--dump-layer' (did you mean --dump-layers?)" -- "$bin" run -m "$model" --ids 1 --dump-layer
expect 0 "OpenBLAS core" -- "$bin" inspect "$model"
expect 0 "of caches at 4096 tokens" -- "$bin" inspect "$model" --context 4K
# The trained context: inspect shows it and sizes the session at it; a longer run warns once, naming the field.
expect 0 "trained for    4096 tokens (max_position_embeddings)" -- "$bin" inspect "$model"
grep -q "caches at 4096 tokens" "$tmp/out" || { echo "FAIL: inspect's default context is not the trained one"; fail=1; }
long_ids=$(printf '5,%.0s' $(seq 1 4100))5
expect 0 "max_position_embeddings is 4096, and this run goes to 4102 tokens" -- "$bin" run -m "$model" --ids "$long_ids" -n 1
[ "$(grep -c max_position_embeddings "$tmp/err")" = 1 ] || { echo "FAIL: the context warning is not printed once"; fail=1; }
"$bin" run -m "$model" --ids 1,2,3 -n 2 2>&1 | grep -q max_position_embeddings && { echo "FAIL: a short run warned"; fail=1; }

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
ls -A "$tmp" | grep -q 'hyrecall-tmp' && { echo "FAIL: temporary file left behind"; fail=1; }
[ "$(wc -w <"$tmp/ids")" -eq 6 ] || { echo "FAIL: run printed $(cat "$tmp/ids")"; fail=1; }
# Text in and out: a copy of the model with a tiny byte-level tokenizer.json.
mkdir "$tmp/textmodel" && cp "$model"/config.json "$model"/model.safetensors "$tmp/textmodel/"
expect 1 "textmodel/tokenizer.json: cannot open" -- "$bin" run -m "$tmp/textmodel" -p "Hello" -n 2
"$MAKE_TINY_TOKENIZER" "$tmp/textmodel/tokenizer.json" || { echo "FAIL: make_tiny_tokenizer"; fail=1; }
expect 0 "" -- "$bin" run -m "$tmp/textmodel" -p "Hello world" -n 4
expect 0 "" -- "$bin" run -m "$tmp/textmodel" -p "Hello" --chat -n 4
# A tokenizer of another model (the miniature's: 4,096 ids, no ChatML tokens) with this 512-id model.
mkdir "$tmp/mismatch" && cp "$model"/config.json "$model"/model.safetensors "$tmp/mismatch/"
cp "$(dirname "$0")/../data/miniature/base/tokenizer.json" "$tmp/mismatch/"
expect 1 "the tokenizer and the model do not match" -- "$bin" run -m "$tmp/mismatch" -p "Hello world, this is a test" -n 1
expect 1 "has no <|im_start|> token" -- "$bin" run -m "$tmp/mismatch" -p "Hello" --chat -n 1
expect 2 "give exactly one of --ids, -p and -f" -- "$bin" run -m "$tmp/textmodel" -p "Hello" --ids 1
# llama.cpp's habits: -t, --threads 0, -c, -f, -p - (stdin), --temp 0; tokens streamed, a timing summary.
printf 'Hello world' >"$tmp/prompt.txt"
"$bin" run -m "$tmp/textmodel" -p "Hello world" -n 4 >"$tmp/text_p" 2>/dev/null
"$bin" run -m "$tmp/textmodel" -f "$tmp/prompt.txt" -n 4 -t 1 >"$tmp/text_f" 2>"$tmp/summary"
"$bin" run -m "$tmp/textmodel" -p - -n 4 --threads 0 -c 64 --temp 0 <"$tmp/prompt.txt" >"$tmp/text_stdin" 2>/dev/null
cmp -s "$tmp/text_p" "$tmp/text_f" && cmp -s "$tmp/text_p" "$tmp/text_stdin" ||
  { echo "FAIL: -p TEXT, -f FILE and -p - gave different text"; fail=1; }
grep -qE "prompt [0-9]+ tokens, prefill .* tokens/s\); generated 4 tokens, decode" "$tmp/summary" ||
  { echo "FAIL: no timing summary on stderr: $(cat "$tmp/summary")"; fail=1; }
expect 2 "only --temp 0 is accepted" -- "$bin" run -m "$model" --ids 1 --temp 0.8
expect 1 "prompt.txt.missing: cannot open" -- "$bin" run -m "$tmp/textmodel" -f "$tmp/prompt.txt.missing"
"$bin" run -m "$model" --ids 1,2,3 -n 3 -t 1 >"$tmp/ids_t1" 2>/dev/null
"$bin" run -m "$model" --ids 1,2,3 -n 3 --threads 2 >"$tmp/ids_t2" 2>/dev/null
cmp -s "$tmp/ids_t1" "$tmp/ids_t2" || { echo "FAIL: -t 1 and --threads 2 generated different ids"; fail=1; }
expect 0 "256 258 259 111 114 108 100" -- "$bin" tokenize -t "$tmp/textmodel/tokenizer.json" "Hello world"
expect 0 "300 256 258 301" -- "$bin" tokenize -t "$tmp/textmodel/tokenizer.json" "<|im_start|>Hello<|im_end|>"
printf 'Hello\n' | "$bin" tokenize -t "$tmp/textmodel/tokenizer.json" - >"$tmp/out"
[ "$(cat "$tmp/out")" = "256 258 10" ] || { echo "FAIL: stdin tokenize gave $(cat "$tmp/out")"; fail=1; }
expect 0 "Hello world" -- "$bin" tokenize -t "$tmp/textmodel/tokenizer.json" --decode 256,258,259,111,114,108,100
[ "$(tail -c 1 "$tmp/out" | od -An -c | tr -d ' ')" = '\n' ] || { echo "FAIL: tokenize --decode does not end its line"; fail=1; }
expect 1 "id 999 at index 0 has no token" -- "$bin" tokenize -t "$tmp/textmodel/tokenizer.json" --decode 999
# Restore: write a checkpoint, compare it, refuse to overwrite it.
expect 0 "wrote $tmp/restored" -- "$bin" restore --base "$model" --tuned "$model" --method procrustes --out "$tmp/restored"
expect 1 "already exists; refusing to overwrite" -- "$bin" restore --base "$model" --tuned "$model" --method qk --out "$tmp/restored"
for key in '"method":' '"side":' '"parts":' '"layers":' '"alpha":' '"summary":'; do
  grep -q "$key" "$tmp/restored/hyrecall_restore.json" || { echo "FAIL: hyrecall_restore.json lacks $key"; fail=1; }
done
expect 2 "are required" -- "$bin" restore --base "$model" --tuned "$model" --out "$tmp/x"
# An output in a directory that does not exist: named as given, never as a temporary name.
expect 1 "$tmp/a/missing/dir: cannot create: directory $tmp/a/missing does not exist" -- "$bin" restore --base "$model" \
  --tuned "$model" --method qk --out "$tmp/a/missing/dir"
grep -q "hyrecall-tmp" "$tmp/err" && { echo "FAIL: restore names a temporary directory"; fail=1; }
expect 2 "expected qk or procrustes" -- "$bin" run -m "$model" --ids 1 --restore-from "$model" --restore rotate
expect 0 "(W_Q, layer 1 full_attention)" -- "$bin" inspect --diff "$model" "$tmp/restored"
# The method table's flags: parts, the two Procrustes sides, their refusals.
expect 0 "wrote $tmp/restored_v" -- "$bin" restore --base "$model" --tuned "$tmp/restored" --method qk --parts v --out "$tmp/restored_v"
expect 0 "wrote $tmp/restored_in" -- "$bin" restore --base "$model" --tuned "$tmp/restored" --method procrustes --procrustes-side input --alpha 0.5 --out "$tmp/restored_in"
expect 1 "must include q and k" -- "$bin" restore --base "$model" --tuned "$model" --method procrustes --parts v --out "$tmp/x"
expect 1 "the output side takes alpha 1 only" -- "$bin" restore --base "$model" --tuned "$model" --method procrustes --alpha 0.5 --out "$tmp/x"
expect 2 "expected output or input" -- "$bin" restore --base "$model" --tuned "$model" --method procrustes --procrustes-side sideways --out "$tmp/x"
expect 2 "expected a list of q, k, v, o" -- "$bin" run -m "$model" --ids 1 --restore-from "$model" --restore-parts q,x
expect 0 "" -- "$bin" run -m "$model" --ids 1,2,3 -n 2 --restore-from "$tmp/restored" --restore-parts k,v
expect 2 "expected qk, procrustes, procrustes-input or parts as letters" -- "$bin" eval --compare "a=$model+qx@$model" --samples 1
[ -e "$tmp/x" ] && { echo "FAIL: a refused restore left $tmp/x"; fail=1; }
expect 0 "" -- "$bin" run -m "$model" --ids 1,2,3 -n 3 --restore-from "$model" --restore-layers 0,1
expect 1 "layer 9 does not exist" -- "$bin" run -m "$model" --ids 1,2,3 -n 3 --restore-from "$model" --restore-layers 9
# Outputs say what made them: a restored run's dump records the restore and its base's files.
weights_sha=$(sha256sum "$model/model.safetensors" | cut -d' ' -f1)
"$bin" run -m "$model" --ids 1,2,3 -n 2 --restore-from "$tmp/restored" --restore procrustes --restore-layers 0,1 \
  --dump "$tmp/restored_run.safetensors" >/dev/null || { echo "FAIL: restored dump run"; fail=1; }
hdr=$(head -c 4000 "$tmp/restored_run.safetensors" | tr -d '\0')
for want in '\"restore\":{\"base\":\"'"$tmp/restored"'\",\"method\":\"procrustes\",\"side\":\"output\",\"parts\":\"q,k\",\"layers\":[0,1]' \
            '\"base_files\":[{\"file\":\"config.json\"' "\\\"sha256\\\":\\\"$weights_sha" '"git_commit":"' \
            '"openblas_core":"' '"logits_sha256":"'; do
  case "$hdr" in *"$want"*) ;; *) echo "FAIL: restored dump's metadata lacks $want"; fail=1 ;; esac
done
grep -q '"restore"' "$tmp/ref.safetensors" && { echo "FAIL: an unrestored dump records a restore"; fail=1; }
# Memory planning: refused before anything is allocated.
expect 1 "MiB are allowed by --max-memory" -- "$bin" run -m "$model" --ids 1,2 -n 2 --max-memory 100K
expect 2 "--max-memory expects a size" -- "$bin" run -m "$model" --ids 1,2 --max-memory lots
expect 0 "" -- "$bin" run -m "$model" --ids 1,2 -n 2 --max-memory unlimited
expect 0 "" -- "$bin" run -m "$model" --ids 1,2 -n 2 --max-memory 20GiB
# --compute: two spellings, recorded in a dump's metadata; restore (which computes nothing) has none.
expect 2 "--compute expects f32 or bf16, got 'fp8'" -- "$bin" run -m "$model" --ids 1,2 --compute fp8
expect 2 "unknown option '--compute'" -- "$bin" restore --base "$model" --tuned "$model" --method qk --out "$tmp/never" --compute bf16
expect 0 "" -- "$bin" run -m "$model" --ids 1,2 -n 2 --compute bf16 --dump "$tmp/bf16.safetensors"
if head -c 4096 "$tmp/bf16.safetensors" | grep -qa '"compute":"bf16"'; then
  echo "ok   run --compute bf16 records compute=bf16 in the dump"
else
  echo "FAIL: the --compute bf16 dump's metadata lacks compute=bf16"; fail=1
fi
# A restore option without --restore-from would restore nothing: refused, naming the flag.
expect 2 "--restore needs --restore-from BASE" -- "$bin" run -m "$model" --ids 1,2 --restore procrustes
expect 2 "--procrustes-alpha needs --restore-from BASE" -- "$bin" lens -m "$model" --ids 1,2 --procrustes-alpha 0.5
# One spelling everywhere: restore's short flags work on run, run's long ones on restore (same bytes).
"$bin" run -m "$model" --ids 1,2,3 -n 3 --restore-from "$tmp/restored" --method qk --layers 0,1 --dump "$tmp/short.st" >/dev/null 2>&1
"$bin" run -m "$model" --ids 1,2,3 -n 3 --restore-from "$tmp/restored" --restore qk --restore-layers 0,1 --dump "$tmp/long.st" >/dev/null 2>&1
"$bin" diff "$tmp/short.st" "$tmp/long.st" --atol 0 >/dev/null || { echo "FAIL: --method/--layers differ from --restore/--restore-layers"; fail=1; }

# Routing lens: summary and dump layout.
expect 0 "query position 4 of 6 tokens" -- "$bin" lens -m "$model" --ids 3,1,4,1,5,9 --position 4 --dump "$tmp/lens.safetensors"
hdr=$(head -c 1000 "$tmp/lens.safetensors" | tr -d '\0')
case "$hdr" in *'"attn.1":{"dtype":"F32","shape":[4,6]'*) ;; *) echo "FAIL: lens dump lacks attn.1 [4, 6]"; fail=1 ;; esac
hdr=$(head -c 4000 "$tmp/lens.safetensors" | tr -d '\0')
for want in '"git_commit":"' '"openblas_core":"' '"threads":"' "$weights_sha"; do
  case "$hdr" in *"$want"*) ;; *) echo "FAIL: lens dump's metadata lacks $want"; fail=1 ;; esac
done
# eval's JSON: the build and each variant's model files.
expect 0 "accuracy" -- "$bin" eval -m "$tmp/textmodel" --samples 1 --json "$tmp/eval.json"
for want in '"git_commit"' '"openblas_core"' "$weights_sha"; do
  grep -qF "$want" "$tmp/eval.json" || { echo "FAIL: eval JSON lacks $want"; fail=1; }
done
expect 1 "past the prompt's last position" -- "$bin" lens -m "$model" --ids 3,1,4 --position 3
# synth: random weights for the model's own config, loadable and runnable; the parameter count of
# the original; BF16 by default, F32 on request; the same seed gives the same bytes, another seed
# other weights; an existing DIR is refused.
params() { "$bin" inspect "$1" | grep '^parameters'; }
expect 0 "wrote $tmp/syn" -- "$bin" synth --config "$model/config.json" --out "$tmp/syn" --seed 3
[ "$(params "$tmp/syn")" = "$(params "$model")" ] || { echo "FAIL: synth parameter count differs from the original's"; fail=1; }
expect 0 "BF16" -- "$bin" inspect "$tmp/syn"
expect 0 "" -- "$bin" run -m "$tmp/syn" --ids 1,2,3 -n 2
"$bin" synth --config "$model/config.json" --out "$tmp/syn_again" --seed 3 >/dev/null
cmp -s "$tmp/syn/model.safetensors" "$tmp/syn_again/model.safetensors" || { echo "FAIL: synth with one seed twice differs"; fail=1; }
"$bin" synth --config "$model/config.json" --out "$tmp/syn_other" --seed 4 >/dev/null
cmp -s "$tmp/syn/model.safetensors" "$tmp/syn_other/model.safetensors" && { echo "FAIL: synth seeds 3 and 4 give the same weights"; fail=1; }
expect 0 "wrote $tmp/syn_f32" -- "$bin" synth --config "$model/config.json" --out "$tmp/syn_f32" --dtype f32
expect 0 "F32" -- "$bin" inspect "$tmp/syn_f32"
expect 1 "already exists; refusing to overwrite" -- "$bin" synth --config "$model/config.json" --out "$tmp/syn"
expect 2 "--dtype expects bf16 or f32" -- "$bin" synth --config "$model/config.json" --out "$tmp/syn_x" --dtype f16
[ -e "$tmp/syn_x" ] && { echo "FAIL: a refused synth left $tmp/syn_x"; fail=1; }

# Reference dumps and diff: a change planted in layer 2 (its W_Q/W_K restored from other weights) is the first
# divergence diff names, at that layer's q; the same dump agrees with itself, bit for bit at 1 and 2 threads.
ids=1,5,9,14,2,7,3,11,4,8,13,6,10,12,15,1
expect 0 "" -- "$bin" run -m "$model" --ids $ids -n 2 --dump "$tmp/layers_a.safetensors" --dump-layers -t 1
expect 0 "" -- "$bin" run -m "$model" --ids $ids -n 2 --dump "$tmp/layers_b.safetensors" --dump-layers -t 2
expect 0 "0 outside tolerance" -- "$bin" diff "$tmp/layers_a.safetensors" "$tmp/layers_b.safetensors" --atol 0
expect 0 "" -- "$bin" run -m "$model" --restore-from "$tmp/syn" --restore-layers 2 --ids $ids -n 2 \
  --dump "$tmp/layers_planted.safetensors" --dump-layers
expect 1 "first divergence: model.layers.2.self_attn.q" -- "$bin" diff "$tmp/layers_planted.safetensors" \
  "$tmp/layers_a.safetensors"
grep -q "model.layers.1 .* yes" "$tmp/out" || { echo "FAIL: diff: layer 1 should agree before the planted change"; fail=1; }
expect 0 "" -- "$bin" run -m "$model" --ids $ids -n 1 --dump "$tmp/layers_mlp.safetensors" \
  --dump-layers 'mlp$'
"$bin" diff "$tmp/layers_mlp.safetensors" "$tmp/layers_a.safetensors" >"$tmp/out" 2>&1
grep -q "only in $tmp/layers_a.safetensors: model.layers.0.self_attn.q" "$tmp/out" && ! grep -q "^model.layers.0.self_attn " "$tmp/out" ||
  { echo "FAIL: --dump-layers 'mlp\$' should keep only the MLP outputs"; cat "$tmp/out"; fail=1; }
expect 2 "--dump-layers needs --dump FILE" -- "$bin" run -m "$model" --ids $ids --dump-layers
expect 2 "is not a regular expression" -- "$bin" run -m "$model" --ids $ids --dump "$tmp/bad_re.safetensors" \
  --dump-layers '('
[ -e "$tmp/bad_re.safetensors" ] && { echo "FAIL: a refused dump left a file"; fail=1; }
expect 2 "two files are required" -- "$bin" diff "$tmp/layers_a.safetensors"
expect 1 "share no tensor name" -- "$bin" diff "$tmp/layers_a.safetensors" "$model/model.safetensors"

# bench: the table and the JSON other tools read (the figures themselves are not asserted).
expect 0 "prefill tok/s" -- "$bin" bench -m "$model" --contexts 64,128 --decode-tokens 2 --json "$tmp/bench.json"
for key in '"machine"' '"sgemm_gflops"' '"stream_gbs"' '"threads"' '"openblas_core"' '"runs"' \
           '"prefill_tokens_per_s"' '"prefill_fraction_of_peak"' '"decode_tokens_per_s"' \
           '"decode_fraction_of_bandwidth"' '"peak_rss_bytes"' '"prefill_by_kind"' '"linear_mixers"' '"lm_head"' \
           '"fraction_of_peak"' '"niah_sample_seconds"'; do
  grep -qF "$key" "$tmp/bench.json" || { echo "FAIL: bench JSON lacks $key"; fail=1; }
done
[ "$(grep -c '"context"' "$tmp/bench.json")" = 2 ] || { echo "FAIL: bench JSON should hold 2 runs"; fail=1; }
# Each run carries the limits measured around it (its fractions' denominators), the machine the best of them.
[ "$(grep -c '"sgemm_gflops"' "$tmp/bench.json")" = 3 ] && [ "$(grep -c '"stream_gbs"' "$tmp/bench.json")" = 3 ] ||
  { echo "FAIL: bench JSON should give the machine's and each run's limits"; fail=1; }
# --project: labelled projections from the last measured context, in the table and the JSON.
expect 0 "projected from 64" -- "$bin" bench -m "$model" --contexts 32,64 --decode-tokens 2 --project 256,1k \
  --json "$tmp/bench_projected.json"
for key in '"projections"' '"from_context":	64' '"context":	1024' '"decode_step_seconds"' '"niah_sample_seconds"'; do
  grep -qF "$key" "$tmp/bench_projected.json" || { echo "FAIL: bench --project JSON lacks $key"; fail=1; }
done
expect 2 "" -- "$bin" bench -m "$model" --contexts 0
# An existing --json is refused before the work (one overwrite rule for every output).
cp "$tmp/bench.json" "$tmp/bench.before"
expect 1 "already exists; refusing to overwrite" -- "$bin" bench -m "$model" --contexts 64 --json "$tmp/bench.json"
cmp -s "$tmp/bench.json" "$tmp/bench.before" || { echo "FAIL: bench --json overwrote an existing file"; fail=1; }
exit $fail
