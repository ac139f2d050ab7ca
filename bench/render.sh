#!/usr/bin/env bash
# Rendering a two-page công văn: vanban (typst, in-process) against LibreOffice headless
# converting the same document as DOCX — what offices do today. Both on one core (taskset).
# Prints the figures and the ratios. Needs: libreoffice-writer-nogui, python3 (python-docx is
# installed into target/bench-venv).
#
#   bench/render.sh [N_VANBAN] [N_LIBREOFFICE]
set -euo pipefail
cd "$(dirname "$0")/.."
N_VANBAN=${1:-300}
N_LO=${2:-5}
OUT=target/bench-render
mkdir -p "$OUT"

command -v soffice >/dev/null || { echo "LibreOffice is missing: apt-get install libreoffice-writer-nogui" >&2; exit 1; }
if [ ! -x target/bench-venv/bin/python ]; then
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install -q python-docx
fi
target/bench-venv/bin/python bench/docx_from_spec.py examples/documents/cong_van.json "$OUT/cong_van.docx"

echo "== vanban"
vanban_out=$(taskset -c 0 cargo bench -q -p vanban-render --bench render -- "$N_VANBAN")
echo "$vanban_out" | grep -v '^VANBAN_MS_PER_DOC='
vanban_ms=$(echo "$vanban_out" | sed -n 's/^VANBAN_MS_PER_DOC=//p')

echo "== LibreOffice $(soffice --version | awk '{print $2}') headless, DOCX -> PDF"
profile=$(mktemp -d)
lo() { taskset -c 0 soffice -env:UserInstallation=file://"$profile" --headless --convert-to pdf --outdir "$OUT" "$@" >/dev/null 2>&1; }
lo "$OUT/cong_van.docx"   # first start creates the profile; not counted
start=$(date +%s.%N)
for _ in $(seq "$N_LO"); do lo "$OUT/cong_van.docx"; done
end=$(date +%s.%N)
lo_ms=$(echo "($end - $start) * 1000 / $N_LO" | bc -l)
printf '  one conversion per process (as a server shelling out does): %.0f ms/document\n' "$lo_ms"
batch=()
for i in $(seq 20); do cp "$OUT/cong_van.docx" "$OUT/copy_$i.docx"; batch+=("$OUT/copy_$i.docx"); done
start=$(date +%s.%N)
lo "${batch[@]}"
end=$(date +%s.%N)
lo_batch_ms=$(echo "($end - $start) * 1000 / 20" | bc -l)
printf '  20 documents in one process (start-up shared): %.0f ms/document\n' "$lo_batch_ms"
pages=$(pdfinfo "$OUT/cong_van.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
echo "  (LibreOffice's PDF has ${pages:-?} page(s))"
rm -rf "$profile" "$OUT"/copy_*

echo "== ratio (LibreOffice time / vanban time, one core)"
printf '  per process:  %.0f x faster\n' "$(echo "$lo_ms / $vanban_ms" | bc -l)"
printf '  batched:      %.0f x faster\n' "$(echo "$lo_batch_ms / $vanban_ms" | bc -l)"
printf '  vanban: %.0f documents/s on one core (target: at least 100)\n' "$(echo "1000 / $vanban_ms" | bc -l)"
