#!/usr/bin/env bash
# Builds the TypeScript SDK (dist/ with .d.ts), type-checks the tests
# (including that the change-stream types equal sql-client's generated
# ones), bundles the tests with esbuild and runs them with Node's test
# runner against a real dosql-server, or with DOSQL_TARGET=wrangler against
# the Worker under `wrangler dev` (built first: worker-build --profile worker).
#
#   DOSQL_TARGET   `wrangler` to test the Worker in workerd instead
#   SKIP_BUILD=1   use the dosql-server binary already built
#   DOSQL_SERVER   the binary (default: the workspace's target/debug)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
bin=$root/node_modules/.bin
for tool in node tsc esbuild; do
    [ -x "$bin/$tool" ] || { echo "test.sh: $bin/$tool missing (run scripts/setup.sh)" >&2; exit 1; }
done

export DOSQL_ROOT=$root
if [ "${DOSQL_TARGET:-}" = wrangler ]; then
    [ -f "$root/dosql/worker/build/index.js" ] || { echo "test.sh: build the Worker first" >&2; exit 1; }
elif [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$root" && cargo build --profile test -p dosql-server)
fi
export DOSQL_SERVER=${DOSQL_SERVER:-${CARGO_TARGET_DIR:-$root/target}/debug/dosql-server}

rm -rf dist build
"$bin/tsc" -p tsconfig.json
"$bin/tsc" -p tsconfig.test.json
"$bin/esbuild" test/*.test.ts --bundle --platform=node --format=esm --target=node20 \
    --outbase=. --outdir=build --alias:@dosql/lake-client=./src/index.ts --log-level=warning
"$bin/node" --test build/test/*.test.js
