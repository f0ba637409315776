#!/usr/bin/env bash
# Installs the toolchain that builds and runs the DoSQL Worker, offline apart
# from crates.io and npm. Idempotent: a second run only checks.
#
#   rustup target   wasm32-unknown-unknown
#   npm (node_modules/, pinned by package-lock.json)
#                   wrangler 4, node 22 (wrangler 4 needs Node >= 22.12),
#                   binaryen (wasm-opt), esbuild
#   cargo (.tools/) worker-build and wasm-bindgen-cli, at the versions in
#                   Cargo.lock (worker-build would otherwise download them)
#
# Nothing is exported globally. Scripts that need the tools source
# scripts/env.sh, which puts them first on PATH and points worker-build at
# them. Everything lands in git-ignored folders inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)

say() { printf 'setup: %s\n' "$*"; }

# The version of a package as locked in Cargo.lock.
locked() {
    awk -v name="$1" '
        $0 == "name = \"" name "\"" { found = 1; next }
        found && /^version = / { gsub(/"/, "", $3); print $3; exit }
    ' Cargo.lock
}

# 1. Rust target.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rust target wasm32-unknown-unknown: present"
else
    say "rust target wasm32-unknown-unknown: installing"
    rustup target add wasm32-unknown-unknown
fi

# 2. npm packages, at the versions of package-lock.json. `npm install`
# rather than `npm ci`: npm writes the lock without the other platforms'
# optional workerd packages, and `npm ci` then refuses it as out of sync;
# `npm install` follows the lock and leaves it unchanged. The stamp skips
# npm entirely when neither file changed since the last run.
stamp=node_modules/.dosql-setup-stamp
if [ -f "$stamp" ] && [ "$stamp" -nt package.json ] && [ "$stamp" -nt package-lock.json ] \
    && [ -x node_modules/.bin/wrangler ]; then
    say "npm packages: up to date"
else
    say "npm packages: npm install (wrangler, node 22, binaryen, esbuild)"
    npm install --no-audit --no-fund --loglevel=error
    touch "$stamp"
fi

# 3. Cargo-installed tools, at the versions Cargo.lock implies.
bindgen_version=$(locked wasm-bindgen)
# worker-build is released together with worker-sys and worker-macros.
worker_build_version=$(locked worker-macros)
if [ -z "$bindgen_version" ] || [ -z "$worker_build_version" ]; then
    echo "setup: Cargo.lock lacks wasm-bindgen or worker-macros (is dosql/worker a workspace member?)" >&2
    exit 1
fi

# cargo install <crate> <version> <binary> <version-output-pattern>
install_tool() {
    local crate=$1 version=$2 bin=$3
    if [ -x ".tools/bin/$bin" ] && ".tools/bin/$bin" --version 2>/dev/null | grep -qF "$version"; then
        say "$crate $version: present"
        return
    fi
    say "$crate $version: cargo install (a few minutes)"
    # --locked reproduces the release's own lock file but sometimes fails to
    # resolve; fall back to a fresh resolution.
    cargo install --root .tools --version "=$version" --locked "$crate" \
        || cargo install --root .tools --version "=$version" "$crate"
}
install_tool wasm-bindgen-cli "$bindgen_version" wasm-bindgen
install_tool worker-build "$worker_build_version" worker-build

# Check what the other scripts rely on.
. scripts/env.sh
for tool in wrangler node wasm-opt esbuild wasm-bindgen worker-build; do
    command -v "$tool" >/dev/null || { echo "setup: $tool missing after install" >&2; exit 1; }
done
node_version=$(node --version)
say "node $node_version, wrangler $(wrangler --version 2>/dev/null | tail -n1), wasm-opt $(wasm-opt --version | awk '{print $3}'), esbuild $(esbuild --version), $(wasm-bindgen --version), $(worker-build --version 2>/dev/null | tail -n1)"
say "done in $(( $(date +%s) - start ))s (tools in $root/.tools and $root/node_modules)"
