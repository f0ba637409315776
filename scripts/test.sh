#!/usr/bin/env bash
# The one command that runs every test of DoSQL on a fresh machine.
# It installs what it needs idempotently and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# A fresh clone gains nothing from incremental compilation, and its caches
# were a third of the target directory: CI's disk is shared and finite.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step() { printf '\n==> %s (%s)\n' "$*" "$(date +%T)"; }

step "toolchain"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

step "format"
cargo fmt --all -- --check

step "engine and protocol service build for wasm32 (no platform dependencies)"
cargo build -p dosql -p dosql-service --target wasm32-unknown-unknown

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "Python readers for the lakehouse tests (PyIceberg, DuckDB; idempotent)"
scripts/setup-python.sh

step "tests"
# dosql-e2e drives the built Worker too: it runs below, once the Worker is built.
cargo test --workspace --exclude dosql-e2e

step "TypeScript SDKs against a real dosql-server (sql-client/ts, lake-client/ts)"
# node_modules/.bin (node 22, tsc, esbuild) comes from scripts/setup.sh.
scripts/setup.sh
sql-client/ts/test.sh
lake-client/ts/test.sh

step "the Worker in the real Workers runtime (wrangler dev, offline)"
# Installs wrangler, node 22, wasm-bindgen-cli, worker-build, wasm-opt and
# esbuild into the repository if missing (idempotent).
scripts/setup.sh
. scripts/env.sh
(cd dosql/worker && worker-build --profile worker)
scripts/worker-size.sh
SKIP_SETUP=1 SKIP_BUILD=1 tests/e2e/smoke.sh

step "the lake under wrangler dev: DoSql -> DoLake -> R2, read by PyIceberg and DuckDB"
SKIP_SETUP=1 SKIP_BUILD=1 tests/e2e/lake.sh

step "TypeScript SDKs against the Worker under wrangler dev"
DOSQL_TARGET=wrangler sql-client/ts/test.sh
DOSQL_TARGET=wrangler lake-client/ts/test.sh

step "end-to-end suite: dosql-server and the Worker under wrangler dev, through sql-client"
cargo test -p dosql-e2e
