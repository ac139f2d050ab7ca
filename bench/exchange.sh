#!/usr/bin/env bash
# The exchange, measured two ways, on SQLite and PostgreSQL:
#   1. the hub alone, end to end (send → long-poll → download → acknowledge), 10 KB and 1 MB
#      attachments, p50/p99, the hub's own peak memory (cargo bench -p vanban-hub --bench hub);
#   2. the whole path between two vanban instances: a clerk of A issues, the document arrives
#      at B through the hub (bench/exchange.py), per-document latency issue → arrival.
#
#   bench/exchange.sh [DOCS] [CLERKS]      (defaults: 1000 documents, 8 concurrent clerks)
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS=${1:-1000}
CLERKS=${2:-8}
eval "$(scripts/pg-start.sh)"
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -q -p vanban-hub --bench hub -- "$((DOCS * 2))" 16
cargo build -q --release -p vanban
echo "== the whole path: A issues (numbering, agency signature, outbox) → edXML package → hub → B (XML-DSig, PDF validation, incoming document), $CLERKS clerks"
python3 bench/exchange.py target/release/vanban "$DOCS" "$CLERKS"
python3 bench/exchange.py target/release/vanban "$DOCS" "$CLERKS" "$VANBAN_TEST_PG_URL"
