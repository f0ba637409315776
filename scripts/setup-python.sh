#!/usr/bin/env bash
# Creates the Python environment the DoLake external-reader tests use
# (dolake/tests/external_readers.rs runs dolake/tests/verify_iceberg.py with
# it): .tools/py in the repository root, with exactly
#
#   pyiceberg[pyarrow]                     Iceberg reader (PyIceberg)
#   duckdb==1.5.5                          DuckDB
#   duckdb-extension-iceberg==1.5.5        its iceberg, avro and httpfs
#   duckdb-extension-avro==1.5.5           extensions, as packages, so no
#   duckdb-extension-httpfs==1.5.5         extension download at test time
#
# Idempotent: when .tools/py already imports all of them, it only says so.
# Tests find the interpreter at .tools/py/bin/python, or in $DOSQL_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/py
packages=(
    "pyiceberg[pyarrow]"
    "duckdb==1.5.5"
    "duckdb-extension-iceberg==1.5.5"
    "duckdb-extension-avro==1.5.5"
    "duckdb-extension-httpfs==1.5.5"
)
check='import pyiceberg, pyarrow, duckdb, duckdb_extension_iceberg, duckdb_extension_avro, duckdb_extension_httpfs; assert duckdb.__version__ == "1.5.5"'

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "setup-python: $venv already has ${packages[*]}"
    exit 0
fi
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "setup-python: $python not found (Python >= 3.9 needed)" >&2; exit 1; }
mkdir -p .tools
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "${packages[@]}"
"$venv/bin/python" -c "$check"
echo "setup-python: installed ${packages[*]} into $venv"
