#!/usr/bin/env bash
# Runs DoSQL locally in the real Workers runtime: setup (idempotent), build,
# then `wrangler dev` on 127.0.0.1:$PORT (default 8787), offline, with
# Durable Object storage kept in $PERSIST (default .wrangler/state) across
# restarts.
#
# The bearer token comes from $DOSQL_TOKEN, else from .dev.vars (kept
# across runs), else a random one is generated into .dev.vars. It is
# printed at start-up together with the URL and the shell command.
#
#   scripts/dev.sh                 setup + build + serve
#   PORT=9000 scripts/dev.sh
#   SKIP_SETUP=1 scripts/dev.sh    when setup already ran
#   SKIP_BUILD=1 scripts/dev.sh    serve the Worker built last time
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8787}
persist=${PERSIST:-.wrangler/state}

[ -n "${SKIP_SETUP:-}" ] || scripts/setup.sh
. scripts/env.sh

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "dev: building the Worker (worker-build --profile worker)"
    (cd dosql/worker && worker-build --profile worker)
    echo "dev: building the dosql shell"
    cargo build --release -q -p sql-client --bin dosql
fi

token=${DOSQL_TOKEN:-}
if [ -z "$token" ] && [ -f .dev.vars ]; then
    token=$(sed -n 's/^DOSQL_TOKEN=//p' .dev.vars | head -n1)
fi
if [ -z "$token" ]; then
    token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
fi
# wrangler reads local secrets from .dev.vars (git-ignored).
printf 'DOSQL_TOKEN=%s\n' "$token" > .dev.vars

cat <<MSG
dev: DoSQL on http://127.0.0.1:$port (state in $persist)
dev:   token  $token
dev:   shell  ./target/release/dosql http://127.0.0.1:$port/db/mydb --token $token
dev:   curl   curl -s -H 'Authorization: Bearer $token' -d '{"statements":[{"sql":"SELECT 1"}]}' http://127.0.0.1:$port/db/mydb/v1/batch
MSG
exec wrangler dev --local --ip 127.0.0.1 --port "$port" --persist-to "$persist" \
    --show-interactive-dev-session=false
