#!/usr/bin/env bash
# End-to-end smoke test of the DoSQL Worker under `wrangler dev` (workerd,
# local, offline): setup, build, then against a fresh persistence directory
#
#   0. without the bearer token every /db request is 401 and creates nothing;
#   1. create a table, insert rows (a blob, integers beyond 2^53, a 2 MB
#      blob whose WAL record spans several rows; a 3 MiB one is refused),
#      read them back exactly,
#      over protocol v1's HTTP batch and pipeline routes;
#   2. errors come back typed (SYNTAX 400, CONSTRAINT 409, NOT_FOUND 404,
#      malformed bodies INVALID_REQUEST 400) and the Object keeps serving;
#      a transaction left open at the end of a pipeline is rolled back;
#   3. two database names are two separate databases;
#   4. wrangler stops and starts again on the same directory: every row
#      is still there.
#
# wrangler always stops at exit (trap); every wait is bounded.
#   SKIP_SETUP=1 / SKIP_BUILD=1 reuse what an earlier run installed/built.
set -euo pipefail
cd "$(dirname "$0")/../.."

NAME=smoke
. tests/e2e/wrangler.sh

# post <db> <route> <expected HTTP status> <json body file or string> [token]:
# prints the response body.
post() {
    local db=$1 route=$2 want=$3 body=$4 auth=${5-$token} out status
    out="$work/response.json"
    if [ -f "$body" ]; then body="@$body"; fi
    status=$(curl -s -m 60 -o "$out" -w '%{http_code}' -X POST -H 'content-type: application/json' \
        -H "Authorization: Bearer $auth" --data-binary "$body" "$base/db/$db/v1/$route")
    if [ "$status" != "$want" ]; then
        echo "smoke: POST /db/$db/v1/$route returned $status, expected $want: $(head -c 500 "$out")" >&2
        return 1
    fi
    cat "$out"
}

# sql <db> <expected HTTP status> <statements as a JSON array or a file>:
# one transactional batch.
sql() {
    local body=$3
    if [ -f "$body" ]; then
        post "$1" batch "$2" "$body"
    else
        post "$1" batch "$2" "{\"statements\": $body}"
    fi
}

# check <python expression over `r`, the parsed JSON on stdin> <label>
check() {
    python3 -c '
import json, sys
r = json.load(sys.stdin)
if not ('"$1"'):
    sys.exit("smoke: FAILED %s: %s" % (sys.argv[1], json.dumps(r)[:500]))
print("smoke: ok  %s" % sys.argv[1])
' "$2"
}

# A 3 MiB blob: its WAL record is split over several dosql_wal rows.
python3 - "$work/big.json" <<'PY'
import base64, json, sys
big = bytes((i * 7 + (i >> 11)) % 251 for i in range(2_000_000))
json.dump({"statements": [{"sql": "INSERT INTO t (id, v, b, n) VALUES (3, 'big', ?, 0)",
           "params": [{"blob": base64.b64encode(big).decode()}]}]}, open(sys.argv[1], "w"))
# Over the 2 MiB value limit: refused with a typed error.
huge = bytes(3 << 20)
json.dump({"statements": [{"sql": "INSERT INTO t (id, v, b, n) VALUES (99, 'huge', ?, 0)",
           "params": [{"blob": base64.b64encode(huge).decode()}]}]}, open(sys.argv[1] + ".huge", "w"))
PY
big_check='len(r["results"][0]["rows"]) == 1 and __import__("base64").b64decode(r["results"][0]["rows"][0][0]["blob"]) == bytes((i * 7 + (i >> 11)) % 251 for i in range(2_000_000))'

start_wrangler
echo "smoke: wrangler ready on $base"

post a batch 401 '{"statements": [{"sql": "CREATE TABLE nope (x)"}]}' "wrong-token" \
    | check 'r["error"]["code"] == "AUTH"' "wrong token is refused"
post a batch 401 '{"statements": [{"sql": "CREATE TABLE nope (x)"}]}' "" \
    | check 'r["error"]["code"] == "AUTH"' "missing token is refused"

sql a 200 '[{"sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB, n INTEGER)"}]' \
    | check 'r["results"][0]["rows_affected"] == 0' "create table"
sql a 200 '[{"sql": "INSERT INTO t (id, v, b, n) VALUES (1, ?, ?, ?), (2, ?, ?, ?)",
            "params": ["x", {"blob": "AAH/"}, {"int": "9223372036854775807"}, "y", null, {"int": "-9007199254740993"}]}]' \
    | check 'r["results"][0]["rows_affected"] == 2' "insert rows"
sql a 200 "$work/big.json" | check 'r["results"][0]["rows_affected"] == 1' "insert 2 MB blob"
sql a 413 "$work/big.json.huge" | check 'r["error"]["code"] == "LIMIT_EXCEEDED"' "3 MiB blob is refused (LIMIT_EXCEEDED)"
# 8 MB more of WAL: passes the Object's 8 MiB checkpoint threshold, so
# pages reach dosql_page and the WAL is truncated before the restart.
sql a 200 '[{"sql": "INSERT INTO t (id, v, b, n) SELECT id + 2, v, b, n FROM t WHERE id = 3"},
            {"sql": "INSERT INTO t (id, v, b, n) SELECT id + 3, v, b, n FROM t WHERE id = 3"},
            {"sql": "INSERT INTO t (id, v, b, n) SELECT id + 4, v, b, n FROM t WHERE id = 3"},
            {"sql": "INSERT INTO t (id, v, b, n) SELECT id + 5, v, b, n FROM t WHERE id = 3"}]' \
    | check '[x["rows_affected"] for x in r["results"]] == [1, 1, 1, 1]' "copy the blob four times (checkpoint)"
rows_1_2='[[1, "x", {"blob": "AAH/"}, {"int": "9223372036854775807"}], [2, "y", None, {"int": "-9007199254740993"}]]'
sql a 200 '[{"sql": "SELECT id, v, b, n FROM t WHERE id < 3 ORDER BY id"}]' \
    | check "r[\"results\"][0][\"rows\"] == $rows_1_2" "read back exactly"
sql a 200 '[{"sql": "SELECT b FROM t WHERE id = 3"}]' | check "$big_check" "read back 2 MB blob"

sql a 400 '[{"sql": "SELEC * FROM t"}]' \
    | check 'r["error"]["code"] == "SYNTAX" and not r["error"]["retryable"]' "syntax error is typed"
sql a 409 '[{"sql": "INSERT INTO t (id, v) VALUES (20, ?)", "params": ["kept?"]},
            {"sql": "INSERT INTO t (id, v) VALUES (1, ?)", "params": ["dup"]}]' \
    | check 'r["error"]["code"] == "CONSTRAINT" and r["error"]["statement"] == 1' "constraint error is typed, names the statement"
post a pipeline 200 '{"requests": [{"type": "begin"}, {"type": "exec", "sql": "INSERT INTO t (id, v) VALUES (10, ?)", "params": ["open"]}]}' \
    | check '[x["type"] for x in r["responses"]] == ["ok", "results"]' "pipeline leaves a transaction open"
post a batch 400 '{"statements": 5}' | check 'r["error"]["code"] == "INVALID_REQUEST"' "malformed body is typed"
post a batch 400 'not json' | check 'r["error"]["code"] == "INVALID_REQUEST"' "non-JSON body is typed"
sql a 200 '[{"sql": "SELECT count(*) FROM t"}, {"sql": "SELECT count(*) FROM t WHERE id IN (10, 20)"}]' \
    | check 'r["results"][0]["rows"] == [[7]] and r["results"][1]["rows"] == [[0]]' "failed batch and open pipeline left nothing; object still serves"

sql b 404 '[{"sql": "SELECT * FROM t"}]' | check 'r["error"]["code"] == "NOT_FOUND"' "database b does not see a"
sql b 200 '[{"sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"}, {"sql": "INSERT INTO t VALUES (1, ?)", "params": ["only in b"]}]' \
    | check 'len(r["results"]) == 2' "database b has its own t"
sql b 200 '[{"sql": "SELECT v FROM t"}]' | check 'r["results"][0]["rows"] == [["only in b"]]' "database b reads its row"
post nope batch 200 '{"statements": [{"sql": "SELECT 1"}]}' >/dev/null
post a pipeline 200 '{"requests": [{"type": "schema"}]}' \
    | check '[t["name"] for t in r["responses"][0]["tables"]] == ["t"]' "schema introspection; the refused requests created nothing"

# About 12 MB of random rows: past the checkpoint threshold, so they sit in
# dosql_page, thousands of pages for the cold start below.
sql cold 200 '[{"sql": "CREATE TABLE big (id INTEGER PRIMARY KEY, payload BLOB)"},
               {"sql": "INSERT INTO big SELECT x, randomblob(500) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 24000) SELECT x FROM c)"}]' \
    | check 'r["results"][1]["rows_affected"] == 24000' "database cold: 24,000 rows of 500 random bytes"

# stats <db>: the Object's storage statistics.
stats() {
    curl -s -m 30 -H "Authorization: Bearer $token" "$base/db/$1/v1/stats"
}

echo "smoke: restarting wrangler on the same persistence directory"
stop_wrangler
start_wrangler

# The Object may be open already: its alarm survives the restart and ships
# what the lake's slot holds (docs/durable-objects.md). Opening reads a
# handful of pages, whatever the database's size.
stats cold | check 'r["pages_read"] <= 16 and r["pages_stored"] > 2500' "cold start: at most a handful of pages read before the first query"
sql cold 200 '[{"sql": "SELECT length(payload) FROM big WHERE id = 12345"}]' \
    | check 'r["results"][0]["rows"] == [[500]]' "cold start: point query"
stats cold | check 'r["open"] and 0 < r["pages_read"] <= 40 < r["pages_stored"]' "cold start: a point query read only a few pages of thousands (lazy loading)"
stats cold
echo

sql a 200 '[{"sql": "SELECT id, v, b, n FROM t WHERE id < 3 ORDER BY id"}]' \
    | check "r[\"results\"][0][\"rows\"] == $rows_1_2" "rows survive restart"
for id in 3 5 6 7 8; do
    sql a 200 "[{\"sql\": \"SELECT b FROM t WHERE id = $id\"}]" | check "$big_check" "2 MB blob $id survives restart"
done
sql a 200 '[{"sql": "SELECT count(*) FROM t"}]' | check 'r["results"][0]["rows"] == [[7]]' "no rolled-back row after restart"
sql b 200 '[{"sql": "SELECT v FROM t"}]' | check 'r["results"][0]["rows"] == [["only in b"]]' "database b survives restart"
sql a 200 '[{"sql": "INSERT INTO t (id, v) VALUES (4, ?)", "params": ["after restart"]}]' \
    | check 'r["results"][0]["rows_affected"] == 1' "writes after restart"

echo "smoke: PASS"
