#!/usr/bin/env bash
# Runs the DoSQL Worker locally: setup, build, then `wrangler dev` on
# 127.0.0.1:$PORT (default 8787), offline, with Durable Object storage kept
# in $PERSIST (default .wrangler/state) across restarts.
#
#   scripts/dev.sh                 setup + build + serve
#   PORT=9000 scripts/dev.sh
#   SKIP_SETUP=1 scripts/dev.sh    when setup already ran (tests do this)
#   SKIP_BUILD=1 scripts/dev.sh    serve the Worker built last time
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8787}
persist=${PERSIST:-.wrangler/state}

[ -n "${SKIP_SETUP:-}" ] || scripts/setup.sh
. scripts/env.sh

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "dev: building the Worker (worker-build --release)"
    (cd dosql/worker && worker-build --release)
fi

echo "dev: serving http://127.0.0.1:$port (state in $persist)"
exec wrangler dev --local --ip 127.0.0.1 --port "$port" --persist-to "$persist" \
    --show-interactive-dev-session=false
