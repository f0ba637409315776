#!/usr/bin/env bash
# Checks that the built Worker deploys as configured and fits the free
# plan: runs `wrangler deploy --dry-run` (validates wrangler.toml, bundles
# exactly what a deploy uploads, needs no account), prints wrangler's own
# upload size and fails above 3 MiB gzipped. Needs scripts/env.sh sourced
# and the Worker built.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d "${TMPDIR:-/tmp}/dosql-deploy.XXXXXX")
trap 'rm -rf "$out"' EXIT
log=$(wrangler deploy --dry-run --outdir "$out" 2>&1) || { echo "$log" >&2; exit 1; }
line=$(grep -m1 'Total Upload:' <<<"$log") || { echo "$log" >&2; echo "worker size: no size in wrangler's output" >&2; exit 1; }
gzip_kib=$(sed -E 's/.*gzip: ([0-9.]+) KiB.*/\1/' <<<"$line")
echo "worker size (wrangler deploy --dry-run): ${line#*Total Upload: }; limit 3072 KiB gzipped"
awk -v k="$gzip_kib" 'BEGIN { exit !(k <= 3072) }' || { echo "worker size: over the 3 MiB limit" >&2; exit 1; }
