#!/usr/bin/env bash
# Runs every test vanban has, on a fresh Debian machine, from nothing:
#   1. installs what the tests need (PostgreSQL, Chromium, fonts, the npm test driver, the
#      signature validators: poppler's pdfsig, NSS certutil, pyHanko in target/bench-venv);
#   2. starts PostgreSQL on loopback;
#   3. checks formatting and the layering of the crates;
#   4. builds every target with clippy's lints (-D warnings) and runs the Rust tests — the
#      store's conformance suite on SQLite *and* PostgreSQL;
#   5. runs the browser tests against the real server in headless Chromium.
# With CI=true a missing service is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step prints how long the one before it took (CI keeps its output).
started=$SECONDS
last=$SECONDS
step() {
  printf '\n==> %s   (previous step: %d s; total %d s)\n' "$*" "$((SECONDS - last))" "$((SECONDS - started))"
  last=$SECONDS
}

# A clean CI clone builds everything once: incremental compilation only adds work there.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

# What the tests need from outside (Debian packages, the npm test driver, pyHanko and aiosmtpd
# from PyPI). It runs in the background while cargo builds: the one waits on the network and
# dpkg, the other on the CPUs. Its output is printed when the tests need it.
install() {
  say() { printf '\n--> %s\n' "$*"; }
  say "installing system packages"
  need=()
  for pkg in postgresql chromium fonts-liberation2 poppler-utils qpdf libreoffice-writer-nogui nodejs npm \
    softhsm2 libnss3-tools opensc socat tesseract-ocr tesseract-ocr-vie xmlsec1; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  # The venv for pyHanko needs Python's venv module; a python3 that has it already is kept.
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  # The machine image ships node and npm outside Debian's packages; don't replace them.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    need=("${need[@]/nodejs}"); need=("${need[@]/npm}")
  fi
  mapfile -t need < <(printf '%s\n' "${need[@]}" | grep -v '^$' || true)
  if [ "${#need[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
  say "installing the browser test driver (playwright-core, no browser download)"
  (cd tests/browser && npm ci --no-audit --no-fund)
  if [ ! -x target/bench-venv/bin/pyhanko ]; then
    say "installing pyHanko in target/bench-venv (the interop tests' independent validator)"
    [ -x target/bench-venv/bin/python ] || python3 -m venv target/bench-venv
    target/bench-venv/bin/python -m pip install -q --disable-pip-version-check \
      pyHanko==0.38.0 pyhanko-certvalidator pyhanko-cli
  fi
  # The mail tests' SMTP server on loopback (crates/vanban-server/tests/it/mail.rs).
  if ! target/bench-venv/bin/python -c 'import aiosmtpd' 2>/dev/null; then
    say "installing aiosmtpd in target/bench-venv (a real SMTP server for the mail tests)"
    target/bench-venv/bin/python -m pip install -q --disable-pip-version-check aiosmtpd==1.4.6
  fi
}

install_pid=""
if [ "${VANBAN_SKIP_INSTALL:-}" != 1 ]; then
  step "installing what the tests need, in the background (target/install.log)"
  mkdir -p target
  install > target/install.log 2>&1 &
  install_pid=$!
fi
wait_for_install() {
  [ -n "$install_pid" ] || return 0
  step "waiting for the installation"
  if ! wait "$install_pid"; then
    cat target/install.log
    echo "installing what the tests need failed (above)" >&2
    exit 1
  fi
  cat target/install.log
  install_pid=""
}

step "formatting, layering"
cargo fmt --all -- --check
scripts/check-layers.sh

# Clippy lints vanban's own crates while they are compiled for the tests: clippy-driver as the
# workspace's compiler wrapper is what `cargo clippy` runs, here on a full build instead of a
# check-only one, so the dependencies are compiled once (a separate `cargo clippy` checked all
# ~600 of them again: about eight minutes of a clean CI run on two cores). Every step below
# runs with the same wrapper, so nothing is compiled twice.
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

step "building and linting every target (clippy -D warnings on lib, bins, tests, benches)"
cargo test --workspace --all-targets --no-run

wait_for_install
# crates/vanban-pades/tests/pades/interop.rs runs it (with CI=true a missing pyHanko is a failure).
if [ -z "${VANBAN_PYHANKO:-}" ] && [ -x target/bench-venv/bin/pyhanko ]; then
  export VANBAN_PYHANKO="$PWD/target/bench-venv/bin/pyhanko"
fi

step "starting PostgreSQL on loopback"
eval "$(scripts/pg-start.sh)"
echo "VANBAN_TEST_PG_URL=$VANBAN_TEST_PG_URL"

step "Rust tests (SQLite and PostgreSQL)"
cargo test --workspace

step "browser tests (headless Chromium)"
cargo build -p vanban
(cd tests/browser && node --test --test-concurrency=1)
step "done"
