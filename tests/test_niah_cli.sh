#!/usr/bin/env bash
# hyrecall niah end to end on a tiny golden model (with a tiny byte-level
# tokenizer): outputs, scores in range, well-formed heat maps, rescoring,
# reproducible prompts, and the errors a user can make.
set -u
bin=$1 model=$2 qwen_tok=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
say() { echo "$*"; }
bad() { echo "FAIL: $*"; fail=1; }

mkdir "$tmp/m" && cp "$model"/config.json "$model"/model.safetensors "$tmp/m/"
"$MAKE_TINY_TOKENIZER" "$tmp/m/tokenizer.json"

# Run: two tasks, two lengths, a depth grid.
"$bin" niah -m "$tmp/m" --tasks S1,MK3 --lengths 2k,3k --samples 1 --depths 0,50,100 --seed 5 --out "$tmp/run" \
  >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; bad "niah run"; }
for f in predictions.jsonl summary.csv summary.json heatmap_niah_single_1.svg heatmap_niah_multikey_3.svg; do
  [ -s "$tmp/run/$f" ] || bad "missing $f"
done
[ "$(wc -l <"$tmp/run/predictions.jsonl")" -eq 12 ] || bad "predictions: $(wc -l <"$tmp/run/predictions.jsonl") lines, want 12"
# Every score a number in [0, 100].
awk -F, 'NR > 1 { if ($6 < 0 || $6 > 100) { print "score out of range: " $0; exit 1 } }' "$tmp/run/summary.csv" || bad "scores"
grep -q "^model,niah_single_1,2048,50,1," "$tmp/run/summary.csv" || bad "summary lacks the depth-50 cell"
"$XML_CHECK" "$tmp/run"/heatmap_*.svg || bad "SVG not well-formed"
say "run: $(grep -c . "$tmp/run/predictions.jsonl") predictions, summary and heat maps written"

# Rescoring the predictions gives the same task x length table.
"$bin" niah score "$tmp/run/predictions.jsonl" --out "$tmp/rescored" >"$tmp/score.log" 2>&1 || { cat "$tmp/score.log"; bad "score"; }
diff <(grep ',all,' "$tmp/run/summary.csv") <(grep ',all,' "$tmp/rescored/summary.csv") || bad "rescoring differs"

# A/B: the same samples on two variants; restoring from the model itself changes nothing.
"$bin" niah --compare "plain=$tmp/m,restored=$tmp/m+procrustes@$tmp/m" --tasks S1 --lengths 2k --samples 2 \
  --depths 0,100 --out "$tmp/ab" >"$tmp/ab.log" 2>&1 || { cat "$tmp/ab.log"; bad "compare run"; }
grep -q '^plain,niah_single_1,2048,all,4,' "$tmp/ab/summary.csv" || bad "compare: no plain rows"
grep -q '^restored,niah_single_1,2048,all,4,' "$tmp/ab/summary.csv" || bad "compare: no restored rows"
diff <(grep '"variant":"plain"' "$tmp/ab/predictions.jsonl" | sed 's/"variant":"plain"//') \
     <(grep '"variant":"restored"' "$tmp/ab/predictions.jsonl" | sed 's/"variant":"restored"//') >/dev/null \
  || bad "restoring from itself changed predictions"
"$XML_CHECK" "$tmp/ab/heatmap_niah_single_1.svg" >/dev/null || bad "compare SVG not well-formed"
grep -q '>restored<' "$tmp/ab/heatmap_niah_single_1.svg" || bad "compare SVG lacks the variant panel"
say "compare: two variants, side-by-side heat map, identical predictions for a no-op restore"

# The routing lens: same predictions as without it, masses in [0, 1], reports well-formed.
"$bin" niah --compare "plain=$tmp/m,restored=$tmp/m+procrustes@$tmp/m" --tasks S1 --lengths 2k --samples 2 \
  --depths 0,100 --lens --out "$tmp/lens" >"$tmp/lens.log" 2>&1 || { cat "$tmp/lens.log"; bad "lens run"; }
diff <(sed 's/,"lens":.*}$/}/' "$tmp/lens/predictions.jsonl") "$tmp/ab/predictions.jsonl" >/dev/null \
  || bad "--lens changed the predictions"
# Printing only (no --out), lens reports included: the table on stdout, and nothing left in $TMPDIR (the scratch reports are removed).
mkdir "$tmp/scratch"
before=$(ls -d /tmp/hyrecall-score* 2>/dev/null | wc -l)
TMPDIR="$tmp/scratch" "$bin" niah score "$tmp/lens/predictions.jsonl" >"$tmp/score-print.log" 2>&1 || bad "score without --out"
[ "$(ls -d /tmp/hyrecall-score* 2>/dev/null | wc -l)" = "$before" ] || bad "score without --out left a directory in /tmp"
grep -q "niah_single_1" "$tmp/score-print.log" || bad "score without --out printed no table"
[ -z "$(ls -A "$tmp/scratch")" ] || bad "score without --out left $(ls -A "$tmp/scratch") in TMPDIR"
[ "$(grep -c '"value_tokens":\[' "$tmp/lens/predictions.jsonl")" -eq 8 ] || bad "lens: needle spans missing"
[ "$(wc -l <"$tmp/lens/lens_summary.csv")" -eq 33 ] || bad "lens_summary.csv: want 2 variants x 4 layers x 4 heads"
awk -F, 'NR > 1 { for (i = 7; i <= 9; i++) if ($i < 0 || $i > 1.000001) { print "mass out of range: " $0; exit 1 } }' \
  "$tmp/lens/lens_summary.csv" || bad "lens masses"
"$XML_CHECK" "$tmp/lens/lens_heads.svg" "$tmp/lens/distance_profile.svg" >/dev/null || bad "lens SVG not well-formed"
grep -q '>restored<' "$tmp/lens/distance_profile.svg" || bad "distance profile lacks a variant"
grep -q "needle value" "$tmp/lens.log" || bad "lens: no per-layer table on stdout"
say "lens: predictions unchanged, masses in range, lens_heads.svg and distance_profile.svg written"

# Prompts: same seed, same bytes; other seed, other bytes.
args=(niah --dump-prompts -t "$qwen_tok" --tasks S1,S2,S3,MK1,MK2,MK3,MV,MQ --lengths 1k --samples 2)
"$bin" "${args[@]}" --seed 11 --out "$tmp/p1" >/dev/null || bad "dump 1"
"$bin" "${args[@]}" --seed 11 --out "$tmp/p2" >/dev/null || bad "dump 2"
"$bin" "${args[@]}" --seed 12 --out "$tmp/p3" >/dev/null || bad "dump 3"
cmp -s "$tmp/p1/prompts.jsonl" "$tmp/p2/prompts.jsonl" || bad "same seed, different prompts"
cmp -s "$tmp/p1/prompts.jsonl" "$tmp/p3/prompts.jsonl" && bad "other seed, same prompts"
[ "$(wc -l <"$tmp/p1/prompts.jsonl")" -eq 16 ] || bad "prompts.jsonl line count"
say "dump-prompts: 8 tasks, reproducible by seed"
grep -qE '"depth":[0-9]+\.[0-9]{3,}' "$tmp/p1/prompts.jsonl" && bad "depths written with more than 2 decimals"
# Lists as people type them: spaces after commas, K for 1024.
"$bin" niah --dump-prompts -t "$qwen_tok" --tasks "S1, S2,S3, MK1, MK2,MK3 , MV,MQ" --lengths "1K" --samples 2 \
  --seed 11 --out "$tmp/p4" >/dev/null || bad "--tasks with spaces"
cmp -s "$tmp/p1/prompts.jsonl" "$tmp/p4/prompts.jsonl" || bad "--tasks 'S1, S2' or --lengths 1K read differently"

# RULER's own files. Its pred/<task>.jsonl (pred, outputs = the gold strings, task from the file name,
# length from the directory above pred/) rescored, with RULER's summary layout; its data/<task>/validation.jsonl
# (outputs, input + answer_prefix) run with --prompts: the same predictions as our own prompts.jsonl gives.
mkdir -p "$tmp/ruler/2048/pred" "$tmp/ruler/2048/data/niah_single_1"
printf '%s\n' '{"index": 0, "pred": " 1234567.", "input": "x", "outputs": ["1234567"], "others": {}, "truncation": -1, "length": 1990}' \
  '{"index": 1, "pred": " 7654321", "input": "x", "outputs": ["1111111"], "others": {}, "truncation": -1, "length": 1985}' \
  '{"index": 2, "pred": "  ", "input": "x", "outputs": ["2222222"], "others": {}, "truncation": -1, "length": 1992}' \
  >"$tmp/ruler/2048/pred/niah_single_1.jsonl"
"$bin" niah score "$tmp/ruler/2048/pred/niah_single_1.jsonl" --out "$tmp/ruler_scored" >/dev/null 2>&1 || bad "score RULER's pred file"
printf '0,1\nTasks,niah_single_1\nScore,33.33\nNulls,1/3\n' | cmp -s - "$tmp/ruler_scored/summary_ruler.csv" ||
  bad "summary_ruler.csv is not RULER's layout: $(cat "$tmp/ruler_scored/summary_ruler.csv")"
grep -q '^model,niah_single_1,2048,unknown,3,33.33,1,$' "$tmp/ruler_scored/summary.csv" ||
  bad "RULER's lines: length from the directory, depth unknown (not 0): $(cat "$tmp/ruler_scored/summary.csv")"
"$bin" niah --dump-prompts -t "$tmp/m/tokenizer.json" --tasks S1 --lengths 2k --samples 2 --seed 3 --out "$tmp/own" >/dev/null
sed -e 's/"task":"niah_single_1",//' -e 's/"length":2048/"length":1900/' -e 's/"answers":/"outputs":/' -e 's/"answer_prefix":"[^"]*"/"answer_prefix":""/' \
  "$tmp/own/prompts.jsonl" >"$tmp/ruler/2048/data/niah_single_1/validation.jsonl"
"$bin" niah -m "$tmp/m" --prompts "$tmp/own/prompts.jsonl" --out "$tmp/own_run" >/dev/null 2>&1 || bad "--prompts (own)"
"$bin" niah -m "$tmp/m" --prompts "$tmp/ruler/2048/data/niah_single_1/validation.jsonl" --out "$tmp/ruler_run" \
  >"$tmp/ruler_run.log" 2>&1 || { cat "$tmp/ruler_run.log"; bad "--prompts (RULER's validation.jsonl)"; }
diff <(grep -o '"pred":"[^"]*"' "$tmp/own_run/predictions.jsonl") <(grep -o '"pred":"[^"]*"' "$tmp/ruler_run/predictions.jsonl") \
  >/dev/null || bad "RULER's validation.jsonl gave other predictions than the same prompts in ours"
[ "$(grep -c '"task":"niah_single_1","length":2048' "$tmp/ruler_run/predictions.jsonl")" -eq 2 ] ||
  bad "RULER's validation.jsonl: task and length not taken from its directories"
say "RULER's pred/ and validation.jsonl files: scored and run; summary_ruler.csv in RULER's layout"

# Prefix reuse: the samples restart from states saved inside the beginning they
# share (engine/prefix_cache.h); the predictions are the same bits as without.
pc=(niah -m "$tmp/m" --tasks S1,S2 --lengths 8k --samples 3 --seed 3)
"$bin" "${pc[@]}" --out "$tmp/pc_on" >"$tmp/pc_on.log" 2>&1 || { cat "$tmp/pc_on.log"; bad "prefix cache run"; }
"$bin" "${pc[@]}" --no-prefix-cache --out "$tmp/pc_off" >"$tmp/pc_off.log" 2>&1 || { cat "$tmp/pc_off.log"; bad "--no-prefix-cache run"; }
cmp -s "$tmp/pc_on/predictions.jsonl" "$tmp/pc_off/predictions.jsonl" || bad "the prefix cache changed the predictions"
reused=$(sed -n 's/.*prefix cache reused \([0-9]*\) of.*/\1/p' "$tmp/pc_on.log")
[ "${reused:-0}" -gt 0 ] || bad "the prefix cache reused nothing: $(cat "$tmp/pc_on.log")"
grep -q "prefix cache" "$tmp/pc_off.log" && bad "--no-prefix-cache still reports a prefix cache"
grep -qE '"prefix_cache":[[:space:]]*false' "$tmp/pc_off/summary.json" || bad "summary.json does not record --no-prefix-cache"
say "prefix cache: $reused prompt tokens reused, predictions bit-identical to --no-prefix-cache"

# Errors: clear message, non-zero exit, no output left.
expect() { local code=$1 needle=$2; shift 2
  "$@" >"$tmp/out" 2>&1; local got=$?
  if [ $got -ne "$code" ] || ! grep -qF -- "$needle" "$tmp/out"; then bad "'$*' exited $got, wanted $code with '$needle': $(cat "$tmp/out")"; else say "ok $code $needle"; fi; }
expect 2 "unknown task 'S9'" "$bin" niah -m "$tmp/m" --tasks S9 --out "$tmp/x"
expect 2 "--lengths expects" "$bin" niah -m "$tmp/m" --lengths 4q --out "$tmp/x"
expect 1 "too small" "$bin" niah -m "$tmp/m" --tasks S2 --lengths 300 --out "$tmp/x"
expect 1 "nowhere.txt: cannot open" "$bin" niah -m "$tmp/m" --tasks S2 --haystack "$tmp/nowhere.txt" --out "$tmp/x"
expect 1 "nowhere.txt: cannot open" "$bin" niah -m "$tmp/m" --tasks S1 --haystack "$tmp/nowhere.txt" --out "$tmp/x"
expect 1 "another configuration (field 'tasks' differs)" "$bin" niah -m "$tmp/m" --tasks S1 --lengths 2k,3k --samples 1 --depths 0,50,100 --seed 5 --out "$tmp/run"
expect 0 "wrote $tmp/run" "$bin" niah -m "$tmp/m" --tasks S1,MK3 --lengths 2k,3k --samples 1 --depths 0,50,100 --seed 5 --out "$tmp/run"
mkdir "$tmp/emptydir"
expect 0 "wrote $tmp/emptydir" "$bin" niah -m "$tmp/m" --tasks S1 --lengths 2k --samples 1 --out "$tmp/emptydir"
mkdir "$tmp/notarun" && echo hi >"$tmp/notarun/file"
expect 1 "is not a hyrecall niah run" "$bin" niah -m "$tmp/m" --tasks S1 --lengths 2k --samples 1 --out "$tmp/notarun"
expect 2 "--out DIR is required" "$bin" niah -m "$tmp/m"
expect 2 "--compare expects NAME=DIR" "$bin" niah --compare "nodir" --out "$tmp/x"
expect 2 "needs METHOD@BASE_DIR" "$bin" niah --compare "a=$tmp/m+qk" --out "$tmp/x"
expect 2 "--lens needs a model run" "$bin" niah --dump-prompts -t "$qwen_tok" --lens --out "$tmp/x"
expect 2 "--tasks does not apply to --prompts" "$bin" niah -m "$tmp/m" --prompts "$tmp/own/prompts.jsonl" --tasks S2 --out "$tmp/x"
[ -e "$tmp/x" ] && bad "a failed run left $tmp/x"

# Crash safety: kill -9 part-way, run the same command again, compare with an uninterrupted run.
cmd=(niah -m "$tmp/m" --tasks S1 --lengths 3k --samples 8 --depths 0,50 --seed 9)
"$bin" "${cmd[@]}" --out "$tmp/whole" >/dev/null 2>&1 || bad "uninterrupted run"
"$bin" "${cmd[@]}" --out "$tmp/killed" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  lines=$(cat "$tmp/killed/predictions.jsonl" 2>/dev/null | wc -l)
  [ "$lines" -ge 3 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
lines=$(wc -l <"$tmp/killed/predictions.jsonl")
"$bin" "${cmd[@]}" --out "$tmp/killed" >"$tmp/resume.log" 2>&1 || { cat "$tmp/resume.log"; bad "resume"; }
cmp -s "$tmp/whole/predictions.jsonl" "$tmp/killed/predictions.jsonl" || bad "resumed predictions differ"
cmp -s "$tmp/whole/summary.csv" "$tmp/killed/summary.csv" || bad "resumed summary differs"
diff <(grep -v elapsed_s "$tmp/whole/summary.json") <(grep -v elapsed_s "$tmp/killed/summary.json") >/dev/null || bad "resumed summary.json differs"
say "kill -9 after $lines of 16 predictions, resumed: files equal to an uninterrupted run"

# Ctrl-C (SIGINT): the sample in flight finishes, the run says how many are saved and how to resume, exits
# 130; the same command resumes to the same files. Off a terminal the run writes plain progress lines.
"$bin" "${cmd[@]}" --out "$tmp/int" >"$tmp/int.out" 2>"$tmp/int.log" &
pid=$!
for _ in $(seq 1 600); do
  [ "$(cat "$tmp/int/predictions.jsonl" 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.05
done
kill -INT $pid; wait $pid; code=$?
[ $code -eq 130 ] || bad "Ctrl-C: exit code $code, want 130"
grep -q "stopped on request with [0-9]* of 16 samples in $tmp/int/predictions.jsonl; run the same command again to resume" \
  "$tmp/int.log" || bad "Ctrl-C: no resume message: $(cat "$tmp/int.log")"
saved=$(wc -l <"$tmp/int/predictions.jsonl")
grep -q "with $saved of 16 samples" "$tmp/int.log" || bad "Ctrl-C: the message's count is not the file's ($saved)"
"$bin" "${cmd[@]}" --out "$tmp/int" >/dev/null 2>"$tmp/int2.log" || bad "resume after Ctrl-C"
cmp -s "$tmp/whole/predictions.jsonl" "$tmp/int/predictions.jsonl" || bad "predictions after Ctrl-C + resume differ"
grep -q "^hyrecall niah: 16/16 samples" "$tmp/int2.log" || bad "no plain progress line off a terminal: $(cat "$tmp/int2.log")"
"$bin" "${cmd[@]}" --samples 2 --progress always --out "$tmp/always" >/dev/null 2>"$tmp/int3.log" ||
  { cat "$tmp/int3.log"; bad "--progress always"; }
[ "$(grep -c '^hyrecall niah: [1-4]/4 samples' "$tmp/int3.log")" -eq 4 ] || bad "--progress always: want a line per sample"
expect 2 "--progress expects auto, always or never" "$bin" niah -m "$tmp/m" --progress loud --out "$tmp/x"
say "Ctrl-C after $saved of 16: saved, resumed to the same files; progress lines off a terminal"

# A run knows its model by content. m2 is a copy of m; its run is killed part-way, then rerun with
# other weights of the same size and tensor names in m2 (refused, the file named), then with m2's
# own weights spelled with a trailing slash (resumes), through a symlink with more samples (extends
# the run), and the result equals an uninterrupted run of m with that many samples.
cp -r "$tmp/m" "$tmp/m2" && ln -s "$tmp/m2" "$tmp/m2link"
id=(niah --tasks S1 --lengths 2k,3k --seed 4)
"$bin" "${id[@]}" -m "$tmp/m" --samples 4 --out "$tmp/id_whole" >/dev/null 2>&1 || bad "uninterrupted run of 4"
"$bin" "${id[@]}" -m "$tmp/m2" --samples 2 --out "$tmp/id" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ "$(cat "$tmp/id/predictions.jsonl" 2>/dev/null | wc -l)" -ge 1 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
cp "$tmp/m2/model.safetensors" "$tmp/weights.orig"
size=$(stat -c %s "$tmp/m2/model.safetensors")
printf '\x11\x22\x33\x44' | dd of="$tmp/m2/model.safetensors" bs=1 seek=$((size - 64)) conv=notrunc 2>/dev/null
[ "$(stat -c %s "$tmp/m2/model.safetensors")" -eq "$size" ] || bad "the swapped weights changed size"
expect 1 "variant 'model' with other weights: model.safetensors has SHA-256" "$bin" "${id[@]}" -m "$tmp/m2" --samples 2 --out "$tmp/id"
cp "$tmp/weights.orig" "$tmp/m2/model.safetensors"
expect 0 "wrote $tmp/id" "$bin" "${id[@]}" -m "$tmp/m2/" --samples 2 --out "$tmp/id"
grep -q "resuming $tmp/id after" "$tmp/out" || bad "the trailing-slash spelling did not resume: $(cat "$tmp/out")"
expect 0 "extending it to more samples" "$bin" "${id[@]}" -m "$tmp/m2link" --samples 4 --out "$tmp/id"
cmp -s "$tmp/id_whole/predictions.jsonl" "$tmp/id/predictions.jsonl" || bad "extended predictions differ from a run of 4"
cmp -s "$tmp/id_whole/summary.csv" "$tmp/id/summary.csv" || bad "extended summary differs from a run of 4"
expect 1 "holds 4 samples per cell; --samples 3 would drop some" "$bin" "${id[@]}" -m "$tmp/m2" --samples 3 --out "$tmp/id"
expect 1 "with --depths a sample's place depends on the count" "$bin" niah -m "$tmp/m" --tasks S1,MK3 --lengths 2k,3k --samples 2 --depths 0,50,100 --seed 5 --out "$tmp/run"
grep -qE '"sha256":[[:space:]]*"'"$(sha256sum "$tmp/m/model.safetensors" | cut -d' ' -f1)"'"' "$tmp/id/run.json" || bad "run.json lacks the weights' SHA-256"
for field in git_commit openblas_core threads processes; do
  grep -q "\"$field\"" "$tmp/id/summary.json" || bad "summary.json's provenance lacks $field"
done
say "resume by content: other weights refused (file named), trailing slash resumes, symlink + more samples extends to a run of 4"
expect 2 "--compare names the variant 'a' twice" "$bin" niah --compare "a=$tmp/m,a=$tmp/m2" --out "$tmp/x"
expect 2 "--tasks names niah_single_1 twice" "$bin" niah -m "$tmp/m" --tasks S1,niah_single_1 --out "$tmp/x"
expect 2 "--lengths gives 1024 twice" "$bin" niah -m "$tmp/m" --lengths 1k,1024 --out "$tmp/x"
[ -e "$tmp/x" ] && bad "a usage error left $tmp/x"
# The memory plan counts the prefix cache's snapshots (at their 1 GiB cap) unless --no-prefix-cache.
expect 1 "prefix-cache snapshots up to 1024.0" "$bin" niah -m "$tmp/m" --tasks S1 --lengths 2k --samples 1 --max-memory 512M --out "$tmp/mem"
[ -e "$tmp/mem" ] && bad "a refused run left $tmp/mem"
expect 0 "wrote $tmp/mem" "$bin" niah -m "$tmp/m" --tasks S1 --lengths 2k --samples 1 --max-memory 512M --no-prefix-cache --out "$tmp/mem"

ls -A "$tmp" | grep -q 'hyrecall-tmp' && bad "a temporary directory was left behind"
exit $fail
