#!/usr/bin/env bash
# The domain core does no IO: it must not depend on a runtime, a database, HTTP or files.
# (lemmy-style dependency-direction check, run by scripts/test.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|sqlx|sqlx-core|axum|hyper|tower|mio|object_store|reqwest|rand|getrandom|libsqlite3-sys) '
deps=$(cargo tree -p vanban-domain -e normal --prefix none --no-dedupe | sort -u)
if echo "$deps" | grep -E "$forbidden"; then
  echo "error: vanban-domain depends on an IO crate (above); the domain core must stay pure" >&2
  exit 1
fi
# The server knows no SQL driver directly: storage is behind vanban-store's traits.
if cargo tree -p vanban-server -e normal --depth 1 --prefix none | grep -E '^sqlx '; then
  echo "error: vanban-server depends on sqlx directly; go through vanban-store" >&2
  exit 1
fi
# The format crates (PKI, PAdES, edXML) know nothing of HTTP, databases or an async runtime.
format_forbidden='^(tokio|sqlx|sqlx-core|axum|hyper|tower|object_store|reqwest) '
for crate in vanban-pki vanban-pades vanban-edxml; do
  if cargo tree -p "$crate" -e normal --prefix none --no-dedupe | sort -u | grep -E "$format_forbidden"; then
    echo "error: $crate depends on an HTTP, database or runtime crate (above); format crates stay pure" >&2
    exit 1
  fi
done
echo "layers: vanban-pki, vanban-pades and vanban-edxml have no HTTP, database or runtime dependency"
echo "layers: vanban-domain has no IO dependency; vanban-server reaches the database only through vanban-store"
