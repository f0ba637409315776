# Sourced by the end-to-end scripts: installs and builds unless told not
# to, then starts and stops `wrangler dev` (local, offline) on a fresh
# persistence directory. The caller sets NAME (its log prefix) first and
# gets: $work (a temporary directory, removed at exit unless KEEP_STATE),
# $token (the bearer token), $port, $base, start_wrangler, stop_wrangler.
# wrangler always stops at exit (trap); every wait is bounded.
#   SKIP_SETUP=1 / SKIP_BUILD=1 reuse what an earlier run installed/built.

[ -n "${SKIP_SETUP:-}" ] || scripts/setup.sh
. scripts/env.sh
if [ -z "${SKIP_BUILD:-}" ]; then
    (cd dosql/worker && timeout 1800 worker-build --profile worker)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dosql-$NAME.XXXXXX")
token="$NAME-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# wrangler reads secrets for local runs from .dev.vars next to wrangler.toml,
# or from the file named by --env-file.
printf 'DOSQL_TOKEN=%s\n' "$token" > "$work/dev.vars"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
wrangler_pid=

stop_wrangler() {
    if [ -n "$wrangler_pid" ]; then
        # Its own process group (setsid): this takes workerd down with it.
        kill -TERM -- "-$wrangler_pid" 2>/dev/null || true
        # Wait for the whole group, workerd included, so that a restart
        # never shares the persistence directory with a dying runtime.
        for _ in $(seq 50); do kill -0 -- "-$wrangler_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$wrangler_pid" 2>/dev/null || true
        wrangler_pid=
    fi
}
cleanup() {
    local rc=$?
    stop_wrangler
    if [ "$rc" -ne 0 ] && [ -f "$work/wrangler.log" ]; then
        echo "--- wrangler log (last 40 lines) ---" >&2
        tail -n 40 "$work/wrangler.log" >&2
    fi
    [ -n "${KEEP_STATE:-}" ] && echo "$NAME: state kept in $work" || rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT INT TERM

start_wrangler() {
    setsid wrangler dev --local --ip 127.0.0.1 --port "$port" --persist-to "$work/state" \
        --env-file "$work/dev.vars" --show-interactive-dev-session=false >>"$work/wrangler.log" 2>&1 &
    wrangler_pid=$!
    for _ in $(seq 120); do
        if curl -sf -m 2 "$base/health" >/dev/null; then return 0; fi
        kill -0 "$wrangler_pid" 2>/dev/null || { echo "$NAME: wrangler exited" >&2; return 1; }
        sleep 0.5
    done
    echo "$NAME: wrangler not ready after 60s" >&2
    return 1
}
