#!/usr/bin/env bash
# The layering check (CI runs it under ctest): every project #include must
# point down the house's layers (engine/README.md), and the tokenizer must
# link without the engine's numerics libraries.
#
#   bash tools/check_layering.sh SOURCE_DIR [BUILD_DIR]
#
# A room may include its own headers and those of the rooms listed for it.
# Rooms outside engine/ see the engine only through engine/hyrecall.h (and
# engine/base/, which every room may use). Exit 1 naming each include that
# breaks a rule.
set -euo pipefail
root=${1:?usage: check_layering.sh SOURCE_DIR [BUILD_DIR]}
build=${2:-}
cd "$root"

# room (a path prefix) -> the prefixes its files may include, besides their own room and engine/base/.
allowed_for() {
  case "$1" in
    engine/base/*)     echo "" ;;
    engine/ops/*)      echo "" ;;
    engine/load/*)     echo "engine/ops/ engine/model.h" ;;        # knows no architecture (binds into struct model)
    engine/mixers/*)   echo "engine/ops/" ;;
    engine/layers/*)   echo "engine/ops/ engine/mixers/ engine/load/ engine/model.h engine/session.h engine/observer.h" ;;
    engine/arch/*)     echo "engine/ops/ engine/load/ engine/model.h" ;;
    engine/restore/*)  echo "engine/ops/ engine/load/ engine/arch/ engine/layers/ engine/mixers/ engine/model.h engine/memory_plan.h engine/restore/" ;;
    engine/cli/*)      echo "engine/hyrecall.h engine/cli/ tokenizer/ niah/ bench/bench.h" ;;
    engine/*)          echo "engine/ops/ engine/load/ engine/mixers/ engine/layers/ engine/arch/ engine/restore/ engine/" ;;
    tokenizer/*)       echo "tokenizer/" ;;
    niah/run/*)        echo "engine/hyrecall.h tokenizer/ niah/" ;;
    niah/*)            echo "tokenizer/ niah/" ;;
    bench/bench_matvec.c) echo "engine/ops/" ;;                   # a kernel microbenchmark: the kernels themselves
    bench/bench_bf16_gemm.c) echo "engine/ops/ engine/base/ bench/bench.h" ;;  # the same, for --compute bf16
    bench/*)           echo "engine/hyrecall.h tokenizer/ bench/" ;;
    *)                 echo "*" ;;                                  # tests/, tools/: anything
  esac
}

room_of() { # the file's own directory, as a prefix
  local d; d=$(dirname "$1"); echo "$d/"
}

fail=0
checked=0
while IFS= read -r file; do
  allowed=$(allowed_for "$file")
  [ "$allowed" = "*" ] && continue
  own=$(room_of "$file")
  while IFS= read -r inc; do
    checked=$((checked + 1))
    case "$inc" in engine/base/*|"$own"*) continue ;; esac
    ok=0
    for prefix in $allowed; do
      case "$inc" in "$prefix"*) ok=1; break ;; esac
    done
    # A file may include its own header wherever it lives (x.c -> x.h).
    [ "$inc" = "${file%.c}.h" ] && ok=1
    if [ $ok = 0 ]; then
      echo "layering: $file includes \"$inc\", outside what $own may use (${allowed:-engine/base/ only})"
      fail=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\/[^"]*\)".*/\1/p' "$file")
done < <(git ls-files 'engine/*.[ch]' 'tokenizer/*.[ch]' 'niah/*.[ch]' 'bench/*.[ch]')

# The tokenizer links the base alone: bench_tokenizer's link line (what CMake
# gives a program that links only hyrecall_tokenizer) names no BLAS, LAPACK,
# OpenMP or libcrypto.
if [ -n "$build" ]; then
  link="$build/bench/CMakeFiles/bench_tokenizer.dir/link.txt"
  if [ ! -f "$link" ]; then
    echo "layering: $link not found (build bench_tokenizer first)"
    fail=1
  elif grep -Eo 'openblas|lapack|gomp|fopenmp|crypto' "$link" | sort -u | grep . ; then
    echo "layering: the tokenizer links the engine's libraries above ($link)"
    fail=1
  fi
fi
[ $fail = 0 ] && echo "layering: $checked includes follow the rooms' rules"
exit $fail
