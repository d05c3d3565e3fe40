#!/usr/bin/env bash
# Install what the test suite needs: server packages (apt, only when missing), the Azurite
# emulator (npm), colmig with its test extras (pip, pinned by constraints.txt) and the wheels
# of the fresh-venv check; in parallel, each printing how long it took. Idempotent and quick when everything is
# installed; pip runs again whenever pyproject.toml or constraints.txt changed since the last
# install here (stamp under .cache/), so a dependency a teammate adds is always installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# command -> Debian package providing it
declare -A NEEDED=(
  [/usr/lib/postgresql/15/bin/initdb]=postgresql
  [/usr/lib/postgresql/15/bin/postgres]=postgresql
  [psql]=postgresql-client
  [mariadbd]=mariadb-server
  [mariadb-install-db]=mariadb-server
  [mariadb]=mariadb-client
  [mosquitto]=mosquitto
)
# The full set, so a half-installed machine ends up complete. (pgloader is only for bench/,
# which skips it when absent: `apt-get install pgloader` to compare with it.)
APT_PACKAGES=(postgresql mariadb-server mariadb-client mosquitto)

have() {
  case "$1" in
    /*) [ -x "$1" ] ;;
    *) PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1 ;;
  esac
}

apt_phase() {
  local missing=() cmd
  for cmd in "${!NEEDED[@]}"; do
    have "$cmd" || missing+=("${NEEDED[$cmd]}")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "server packages already installed"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "not root, skipping apt; missing: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install ${APT_PACKAGES[*]}" >&2
    return 0
  fi
  echo "installing ${APT_PACKAGES[*]} (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  # The tests run their own servers: keep Debian from starting the packaged ones (starting
  # and then stopping MariaDB cost seconds), unless the machine has its own policy.
  local policy=/usr/sbin/policy-rc.d ours=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
    trap "rm -f $policy" EXIT  # this phase runs in its own subshell
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
    "${APT_PACKAGES[@]}" >/dev/null
  [ -z "$ours" ] || rm -f "$policy"
  if command -v service >/dev/null 2>&1; then  # in case a policy of the machine started them
    for svc in postgresql mariadb mosquitto; do
      service "$svc" stop >/dev/null 2>&1 || true
    done
  fi
}

pip_stamp() {
  { cat pyproject.toml constraints.txt; "$PYTHON" -c 'import sys; print(sys.executable, sys.version)'; } |
    sha256sum | cut -c1-32
}

pip_phase() {
  local stamp_file=.cache/install-test-deps.pip-stamp stamp
  stamp="$(pip_stamp)"
  # Installed for exactly this pyproject.toml + constraints.txt, and colmig is the editable
  # install of this checkout: nothing to do.
  if [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ] && "$PYTHON" -I -c '
import sys, colmig
from pathlib import Path
sys.exit(Path(colmig.__file__).resolve().parent != Path("colmig").resolve())' 2>/dev/null; then
    echo "python packages already installed"
    return 0
  fi
  echo "pip install -c constraints.txt -e '.[test]'"
  "$PYTHON" -m pip install -q -c constraints.txt -e '.[test]'
  mkdir -p .cache
  echo "$stamp" >"$stamp_file"
}

# The wheels scripts/check_fresh_install.py installs into its fresh venvs, downloaded while
# the rest installs (once per pyproject.toml + constraints.txt, kept in ~/.cache/colmig).
wheels_phase() {
  "$PYTHON" scripts/check_fresh_install.py --fill-wheelhouse
}

# Azurite (the Azure Blob Storage emulator) from npm into a repo-local, git-ignored prefix;
# tests/servers.py looks for it there. Pinned: a new release may need a newer Node.js.
AZURITE_VERSION=3.35.0
npm_phase() {
  if [ -x .cache/npm/node_modules/.bin/azurite-blob ]; then
    echo "azurite already installed"
  elif command -v npm >/dev/null 2>&1; then
    echo "npm install azurite@$AZURITE_VERSION into .cache/npm"
    npm install --prefix .cache/npm --prefer-offline --no-audit --no-fund --no-save \
      --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null
  else
    echo "npm not found, skipping azurite (the Azure tests will skip)" >&2
  fi
}

# Run each phase in the background, its output prefixed, and report its time and status.
run_phase() {
  local name="$1" start=$SECONDS rc=0
  # A subshell outside any `||`: there errexit would be ignored inside the phase.
  set +e
  (
    set -e
    "${name}_phase"
  ) >"$logs/$name.out" 2>&1
  rc=$?
  set -e
  sed "s/^/install-test-deps: $name: /" "$logs/$name.out"
  echo "install-test-deps: $name: $([ "$rc" -eq 0 ] && echo done || echo "FAILED (exit $rc)") in $((SECONDS - start))s"
  return "$rc"
}

pids=()
for phase in apt npm pip wheels; do
  run_phase "$phase" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
exit "$failed"
