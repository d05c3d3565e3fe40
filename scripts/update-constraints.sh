#!/usr/bin/env bash
# Regenerate constraints.txt after changing dependencies in pyproject.toml: resolve '.[test]'
# in a fresh venv (keeping today's pins where they still fit, resolving freely otherwise)
# and pin everything that ended up installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
"$PYTHON" -m venv "$venv"
if ! "$venv/bin/pip" install -q -c constraints.txt '.[test]'; then
  echo "update-constraints: today's pins do not fit pyproject.toml; resolving without them" >&2
  "$venv/bin/pip" install -q '.[test]'
fi
{
  grep '^#' constraints.txt || true
  "$venv/bin/pip" freeze --exclude colmig | sort -f
} >constraints.txt.new
mv constraints.txt.new constraints.txt
echo "update-constraints: $(grep -vc '^#' constraints.txt) pins written to constraints.txt"
