#!/usr/bin/env bash
# PAdES signing and validation: vanban (vanban-pades, in-process, keys held in memory) against
# pyHanko signing the same PDF with the same RSA-2048 key and validating vanban's files, and
# against `openssl speed` (RSA-2048 signatures per second: the physical limit of one core).
# Everything on one core (taskset -c 0). Prints the figures, the ratios and the targets.
# Needs: openssl, python3 (pyHanko 0.38 in target/bench-venv, installed when missing).
#
#   bench/signing.sh [N_VANBAN] [N_PYHANKO]
set -euo pipefail
cd "$(dirname "$0")/.."
N_VANBAN=${1:-300}
N_PY=${2:-30}
OUT="$PWD/target/bench-signing"
FIXTURE=crates/vanban-pades/tests/fixtures/cong_van.pdf
PY=target/bench-venv/bin/python
mkdir -p "$OUT"

command -v openssl >/dev/null || { echo "openssl is missing" >&2; exit 1; }
[ -x "$PY" ] || python3 -m venv target/bench-venv
"$PY" -c 'import pyhanko.sign' 2>/dev/null || target/bench-venv/bin/pip install -q 'pyHanko==0.38.*'

# Build first (on every core), then measure on one.
cargo bench -q -p vanban-pades --bench signing --no-run

echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, measuring on core 0; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== vanban"
vanban_out=$(VANBAN_BENCH_OUT="$OUT" taskset -c 0 cargo bench -q -p vanban-pades --bench signing -- "$N_VANBAN")
echo "$vanban_out" | grep -v '^VANBAN_'
v() { echo "$vanban_out" | sed -n "s/^$1=//p"; }

echo "== pyHanko (same fixture, same RSA-2048 key and chain, PEM)"
py_out=$(taskset -c 0 "$PY" bench/pyhanko_bench.py "$OUT" "$FIXTURE" "$N_PY" "$N_PY")
echo "$py_out" | grep -v '^PYHANKO_'
p() { echo "$py_out" | sed -n "s/^$1=//p"; }

echo "== $(openssl version | cut -d' ' -f1-2) speed -seconds 3 rsa2048 (one core)"
speed() { taskset -c 0 openssl speed -seconds 3 -mr rsa2048 2>/dev/null | awk -F: '/^\+F2:/ {print $4}'; }
ossl=$(speed)
printf '  RSA-2048 signs/s: %.0f (%.3f ms/sign)\n' "$ossl" "$(echo "1000 / $ossl" | bc -l)"
if grep -qw avx512ifma /proc/cpuinfo; then
  # OpenSSL's RSA-2048 uses AVX-512 IFMA here; the same with IFMA masked (scalar mulx/adx code,
  # as ring has) shows how much of the gap is that one code path.
  ossl_noifma=$(OPENSSL_ia32cap=":~0x200000" speed)
  printf '  RSA-2048 signs/s with AVX-512 IFMA masked (OPENSSL_ia32cap=:~0x200000): %.0f\n' "$ossl_noifma"
fi

bb=$(v VANBAN_BB_PER_S); both=$(v VANBAN_BOTH_PER_S)
val=$(v VANBAN_VALIDATE_SIG_PER_S); val_bb=$(v VANBAN_VALIDATE_BB_SIG_PER_S)
py_bb=$(p PYHANKO_BB_PER_S); py_bb16=$(p PYHANKO_BB16K_PER_S)
py_val=$(p PYHANKO_VALIDATE_SIG_PER_S); py_val_bb=$(p PYHANKO_VALIDATE_BB_SIG_PER_S)
r() { printf '%.1f' "$(echo "$1 / $2" | bc -l)"; }
echo "== ratios (one core)"
echo "  vanban B-B / pyHanko B-B (defaults):            $(r "$bb" "$py_bb") x"
echo "  vanban B-B / pyHanko B-B (bytes_reserved=16384): $(r "$bb" "$py_bb16") x"
echo "  vanban B-B / openssl RSA-2048 signs:             $(printf '%.2f' "$(echo "$bb / $ossl" | bc -l)") (share of the one-core RSA limit)"
echo "  vanban validation / pyHanko validation (B-T file): $(r "$val" "$py_val") x"
echo "  vanban validation / pyHanko validation (B-B file): $(r "$val_bb" "$py_val_bb") x"
echo "== targets"
target() { # label value minimum unit
  if [ "$(echo "$2 >= $3" | bc -l)" = 1 ]; then verdict=met; else verdict="NOT met"; fi
  printf '  %-44s %8.0f %-9s (target >= %s): %s\n' "$1" "$2" "$4" "$3" "$verdict"
}
target "B-B signatures" "$bb" 600 docs/s
target "both signatures (signer + agency), B-B" "$both" 300 docs/s
target "validation, two-signature B-T file" "$val" 2000 sig/s
target "validation, two-signature B-B file" "$val_bb" 2000 sig/s
