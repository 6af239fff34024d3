#!/usr/bin/env bash
# Lays the third-party sources that hypenet_golden.py imports into the ignored folder .published/
# at the repository root. Nothing of them is copied into tools/.
#
#   HYPENET_GIT=/path/to/hybrid-linear-attention/.git FLA_GIT=/path/to/flash-linear-attention/.git \
#     bash tools/published_goldens/fetch_sources.sh
#
# HYPENET_GIT / FLA_GIT: git directories (bare or not) of thunlp/hybrid-linear-attention and
# fla-org/flash-linear-attention; JET_GIT (optional): of NVlabs/Jet-Nemotron.
# HYPENET_REV / FLA_REV / JET_REV pick the commits (defaults below).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HYPENET_REV=${HYPENET_REV:-229e3013740266394640af8cff7f24cd35795ec9}
FLA_REV=${FLA_REV:-bc3b101dcb713ddc5bd8924b66754eb68b5ccf89}
JET_REV=${JET_REV:-94cbd12404637950722a09f70c8649ff1b1f2793}
: "${HYPENET_GIT:?set HYPENET_GIT to a git dir of thunlp/hybrid-linear-attention}"
: "${FLA_GIT:?set FLA_GIT to a git dir of fla-org/flash-linear-attention}"

grep -qx '/.published/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.published/' >> "$ROOT/.git/info/exclude"
rm -rf "$ROOT/.published/hypenet_src" "$ROOT/.published/fla_src" "$ROOT/.published/jet_src"
mkdir -p "$ROOT/.published/hypenet_src" "$ROOT/.published/fla_src"
git --git-dir="$HYPENET_GIT" archive "$HYPENET_REV" halo/modeling/hypenet | tar -x -C "$ROOT/.published/hypenet_src"
git --git-dir="$FLA_GIT" archive "$FLA_REV" fla | tar -x -C "$ROOT/.published/fla_src"
HC=$(git --git-dir="$HYPENET_GIT" rev-parse "$HYPENET_REV^{commit}")
FC=$(git --git-dir="$FLA_GIT" rev-parse "$FLA_REV^{commit}")
JC=""
if [ -n "${JET_GIT:-}" ]; then
  # only the .py files of jetai/modeling/hf (the tokenizer files are not needed)
  mkdir -p "$ROOT/.published/jet_src/jetai/modeling/hf"
  for f in $(git --git-dir="$JET_GIT" ls-tree -r --name-only "$JET_REV" jetai/modeling/hf | grep '\.py$'); do
    git --git-dir="$JET_GIT" show "$JET_REV:$f" > "$ROOT/.published/jet_src/$f"
  done
  JC=$(git --git-dir="$JET_GIT" rev-parse "$JET_REV^{commit}")
fi
printf '{"hypenet_commit": "%s", "fla_commit": "%s", "jet_nemotron_commit": "%s"}\n' "$HC" "$FC" "$JC" > "$ROOT/.published/SOURCES.json"
cat "$ROOT/.published/SOURCES.json"
