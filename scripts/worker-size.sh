#!/usr/bin/env bash
# Reports the size of the built Worker and fails above the free plan's
# limit of 3 MiB gzipped (what `wrangler deploy` uploads: the wasm module
# and its JavaScript shim).
set -euo pipefail
cd "$(dirname "$0")/../dosql/worker/build"
limit=$((3 << 20))
wasm=$(wc -c < index_bg.wasm)
gz=$(cat index_bg.wasm index.js | gzip -9 | wc -c)
printf 'worker size: index_bg.wasm %d bytes, index.js %d bytes, %d bytes gzipped (%.2f MiB; limit 3 MiB)\n' \
    "$wasm" "$(wc -c < index.js)" "$gz" "$(awk -v b="$gz" 'BEGIN { print b / 1048576 }')"
if [ "$gz" -gt "$limit" ]; then
    echo "worker size: over the 3 MiB limit" >&2
    exit 1
fi
