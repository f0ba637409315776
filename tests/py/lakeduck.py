"""DuckDB 1.5.5 reading the lake: the one place the lakehouse tests load
DuckDB's iceberg extension (offline, from the pip packages
duckdb-extension-NAME that scripts/setup-python.sh installs) and point
its S3 client at a DoLake S3 route (dosql-server's /s3 or the Worker's
/lake/{name}/s3), with the bearer token as the access key id.

Scripts outside this folder import it after
`sys.path.insert(0, <repository>/tests/py)`.
"""

import pathlib

import duckdb


def connect(token: str, endpoint: str) -> "duckdb.DuckDBPyConnection":
    """A DuckDB connection with httpfs, avro and iceberg loaded and an S3
    secret for `endpoint` (host:port/path, plain HTTP, path-style)."""
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for name in ["httpfs", "avro", "iceberg"]:
        # The pip packages duckdb-extension-NAME carry the extension files.
        base = pathlib.Path(__import__("duckdb_extension_" + name).__file__).parent
        found = sorted(base.glob(f"**/{name}.duckdb_extension"))
        assert found, f"no {name}.duckdb_extension under {base}"
        con.execute(f"LOAD '{found[0]}'")
    con.execute(
        f"""CREATE SECRET lake (TYPE s3, KEY_ID '{token}', SECRET 'unused', REGION 'us-east-1',
            ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"""
    )
    return con
