#!/usr/bin/env bash
# Runs every test vanban has, on a fresh Debian machine, from nothing:
#   1. installs what the tests need (PostgreSQL, Chromium, fonts, the npm test driver, the
#      signature validators: poppler's pdfsig, NSS certutil, pyHanko in target/bench-venv);
#   2. starts PostgreSQL on loopback;
#   3. checks formatting, lints and the layering of the crates;
#   4. runs the Rust tests — the store's conformance suite on SQLite *and* PostgreSQL;
#   5. runs the browser tests against the real server in headless Chromium.
# With CI=true a missing service is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A clean CI clone builds everything once: incremental compilation only adds work there.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

if [ "${VANBAN_SKIP_INSTALL:-}" != 1 ]; then
  step "installing system packages"
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
  step "installing the browser test driver (playwright-core, no browser download)"
  (cd tests/browser && npm ci --no-audit --no-fund)
  if [ ! -x target/bench-venv/bin/pyhanko ]; then
    step "installing pyHanko in target/bench-venv (the interop tests' independent validator)"
    [ -x target/bench-venv/bin/python ] || python3 -m venv target/bench-venv
    target/bench-venv/bin/python -m pip install -q --disable-pip-version-check \
      pyHanko==0.38.0 pyhanko-certvalidator pyhanko-cli
  fi
  # The mail tests' SMTP server on loopback (crates/vanban-server/tests/it/mail.rs).
  if ! target/bench-venv/bin/python -c 'import aiosmtpd' 2>/dev/null; then
    step "installing aiosmtpd in target/bench-venv (a real SMTP server for the mail tests)"
    target/bench-venv/bin/python -m pip install -q --disable-pip-version-check aiosmtpd==1.4.6
  fi
fi
# crates/vanban-pades/tests/interop.rs runs it (with CI=true a missing pyHanko is a failure).
if [ -z "${VANBAN_PYHANKO:-}" ] && [ -x target/bench-venv/bin/pyhanko ]; then
  export VANBAN_PYHANKO="$PWD/target/bench-venv/bin/pyhanko"
fi

step "starting PostgreSQL on loopback"
eval "$(scripts/pg-start.sh)"
echo "VANBAN_TEST_PG_URL=$VANBAN_TEST_PG_URL"

step "formatting, lints, layering"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
scripts/check-layers.sh

step "Rust tests (SQLite and PostgreSQL)"
cargo test --workspace

step "browser tests (headless Chromium)"
cargo build -p vanban
(cd tests/browser && node --test --test-concurrency=1)
