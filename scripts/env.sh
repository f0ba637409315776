# Sourced (not run) by scripts that build or run the Worker: puts the
# repository-local tools of scripts/setup.sh first on PATH and points
# worker-build at them, so that it downloads nothing. Affects only the
# sourcing shell.
_dosql_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_dosql_root/node_modules/.bin:$_dosql_root/.tools/bin:$PATH"
export WASM_BINDGEN_BIN="$_dosql_root/.tools/bin/wasm-bindgen"
export WASM_OPT_BIN="$_dosql_root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$_dosql_root/node_modules/.bin/esbuild"
export WRANGLER_SEND_METRICS=false
unset _dosql_root
