#!/usr/bin/env bash
# Install what the test suite needs: server packages (apt, only when missing) and colmig with
# its test extras. Idempotent and quick when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"

# command -> Debian package providing it
declare -A NEEDED=(
  [/usr/lib/postgresql/15/bin/initdb]=postgresql
  [/usr/lib/postgresql/15/bin/postgres]=postgresql
  [psql]=postgresql-client
  [mariadbd]=mariadb-server
  [mariadb-install-db]=mariadb-server
  [mariadb]=mariadb-client
  [mosquitto]=mosquitto
  [pgloader]=pgloader
)

have() {
  case "$1" in
    /*) [ -x "$1" ] ;;
    *) PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for cmd in "${!NEEDED[@]}"; do
  have "$cmd" || missing+=("${NEEDED[$cmd]}")
done

if [ "${#missing[@]}" -gt 0 ]; then
  # The full set, so a half-installed machine ends up complete.
  packages=(postgresql mariadb-server mariadb-client mosquitto pgloader)
  if [ "$(id -u)" -eq 0 ]; then
    echo "install-test-deps: installing ${packages[*]} (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    echo "install-test-deps: not root, skipping apt; missing: ${missing[*]}" >&2
    echo "install-test-deps: run as root, or: sudo apt-get install ${packages[*]}" >&2
  fi
else
  echo "install-test-deps: server packages already installed"
fi

# Debian starts the packaged servers on install; the tests run their own, so stop those.
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" -eq 0 ] && command -v service >/dev/null 2>&1; then
  for svc in postgresql mariadb mosquitto; do
    service "$svc" stop >/dev/null 2>&1 || true
  done
fi

if "$PYTHON" -I - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
from pathlib import Path
needed = ["colmig", "pytest", "pytest-timeout", "moto", "flask", "ruff", "s3fs", "pymysql",
          "adbc-driver-postgresql", "adbc-driver-sqlite", "connectorx", "duckdb", "pyarrow",
          "polars", "PyYAML", "boto3", "gcsfs", "adlfs", "gcp-storage-emulator"]
for name in needed:
    md.version(name)
# colmig must be the editable install of this checkout.
import colmig
sys.exit(0 if Path(colmig.__file__).resolve().parent == Path("colmig").resolve() else 1)
PY
then
  echo "install-test-deps: python packages already installed"
else
  echo "install-test-deps: pip install -e '.[test]'"
  "$PYTHON" -m pip install -q -e '.[test]'
fi

# Azurite (the Azure Blob Storage emulator) from npm into a repo-local, git-ignored prefix;
# tests/servers.py looks for it there. Pinned: a new release may need a newer Node.js.
AZURITE_VERSION=3.35.0
if [ -x .cache/npm/node_modules/.bin/azurite-blob ]; then
  echo "install-test-deps: azurite already installed"
elif command -v npm >/dev/null 2>&1; then
  echo "install-test-deps: npm install azurite@$AZURITE_VERSION into .cache/npm"
  npm install --prefix .cache/npm --no-audit --no-fund --no-save --loglevel=error \
    "azurite@$AZURITE_VERSION" >/dev/null
else
  echo "install-test-deps: npm not found, skipping azurite (the Azure tests will skip)" >&2
fi
