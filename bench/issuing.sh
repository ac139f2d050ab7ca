#!/usr/bin/env bash
# Documents issued and delivered per second (numbered, number and date filled, agency PAdES
# signature with the seal, five internal recipients each), on SQLite and PostgreSQL, with the
# database first filled to 10 thousand and to 1 million documents. Prints the rates and the
# ratios against the targets (≥ 500/s on SQLite; PostgreSQL within 1.5×; < 1.3× slower at 1M).
#
#   bench/issuing.sh [DOCS] [CLERKS]        (defaults: 1000 documents, 8 concurrent clerks)
#   VANBAN_BENCH_SIZES=10000 bench/issuing.sh   (skip the 1M fill)
#
# The data directories are made under $TMPDIR (default /tmp) and kept until the bench ends.
# Each issued file is a new inode: on ext4 without a journal (this development VM), allocating
# inodes soon after many files were deleted (a previous run's data) costs up to 1 ms of system
# time per file instead of about 0.15 ms; runs back to back measure that too, so leave a few
# minutes between them. TMPDIR=/dev/shm measures without the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS=${1:-1000}
CLERKS=${2:-8}
eval "$(scripts/pg-start.sh)"
export VANBAN_BENCH_SIZES=${VANBAN_BENCH_SIZES:-10000,1000000}
cargo bench -q -p vanban-server --bench issuing --no-run
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -q -p vanban-server --bench issuing -- "$DOCS" "$CLERKS"
