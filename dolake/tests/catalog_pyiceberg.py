"""PyIceberg (and DuckDB) against DoLake's REST catalog on a dosql-server.

Run by catalog_pyiceberg.rs with: CATALOG_URI, TOKEN, S3_ENDPOINT
(host:port/s3, for DuckDB) and MANAGED = JSON {"namespace": [...], "name": ..., "rows": [[id, name], ...]}
describing a table DoLake wrote. Every check raises on failure; the last
line printed is "ok".
"""

import json
import os
import pathlib
import sys

import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    ForbiddenError,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType, IntegerType


def expect(exc, f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except exc:
        return
    raise AssertionError(f"{f.__name__}{args} did not raise {exc.__name__}")


uri = os.environ["CATALOG_URI"]
token = os.environ["TOKEN"]
cat = RestCatalog("dolake", uri=uri, token=token)

# Namespaces, multi-level included.
cat.create_namespace("py", {"owner": "tests"})
cat.create_namespace(("py", "inner"))
expect(NamespaceAlreadyExistsError, cat.create_namespace, "py")
assert ("py",) in cat.list_namespaces(), cat.list_namespaces()
assert cat.list_namespaces("py") == [("py", "inner")], cat.list_namespaces("py")
assert cat.load_namespace_properties("py") == {"owner": "tests"}
assert cat.namespace_exists(("py", "inner"))
assert not cat.namespace_exists("nope")
expect(NoSuchNamespaceError, cat.load_namespace_properties, "nope")
summary = cat.update_namespace_properties("py", removals={"owner", "missing"}, updates={"k": "v"})
assert summary.removed == ["owner"] and summary.missing == ["missing"] and summary.updated == ["k"], summary
assert cat.load_namespace_properties("py") == {"k": "v"}
expect(NamespaceNotEmptyError, cat.drop_namespace, "py")
cat.drop_namespace(("py", "inner"))

# A table: create, load, evolve, properties, rename, drop.
schema = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
    identifier_field_ids=[1],
)
t = cat.create_table(("py", "events"), schema, properties={"a": "1"})
expect(TableAlreadyExistsError, cat.create_table, ("py", "events"), schema)
assert cat.table_exists(("py", "events"))
assert cat.list_tables("py") == [("py", "events")]
t = cat.load_table(("py", "events"))
assert t.metadata_location.startswith("s3://lake/warehouse/py/events/metadata/00001-"), t.metadata_location
assert t.properties["a"] == "1"
with t.update_schema() as update:
    update.add_column("score", IntegerType())
t = cat.load_table(("py", "events"))
assert [f.name for f in t.schema().fields] == ["id", "name", "score"], t.schema()
assert t.metadata.current_schema_id == 1 and t.metadata.last_column_id == 3
with t.transaction() as tx:
    tx.set_properties(b="2")
    tx.remove_properties("a")
t2 = cat.load_table(("py", "events"))
assert t2.properties.get("b") == "2" and "a" not in t2.properties, t2.properties
assert "/metadata/00003-" in t2.metadata_location, t2.metadata_location
# The stale handle `t` was loaded before the property commit: its schema
# requirement still holds, but a second schema change from an older
# snapshot of the table fails.
stale = t
with t2.update_schema() as update:
    update.add_column("extra", StringType())
try:
    with stale.update_schema() as update:
        update.add_column("other", StringType())
    raise AssertionError("a stale schema change committed")
except CommitFailedException:
    pass
cat.rename_table(("py", "events"), ("py", "renamed"))
expect(NoSuchTableError, cat.load_table, ("py", "events"))
assert cat.load_table(("py", "renamed")).metadata_location == cat.load_table(("py", "renamed")).metadata_location
cat.drop_table(("py", "renamed"))
assert not cat.table_exists(("py", "renamed"))
cat.drop_namespace("py")
assert ("py",) not in cat.list_namespaces()

# A table DoLake wrote (managed): scan through the catalog and the S3 route.
managed = json.loads(os.environ["MANAGED"])
ident = tuple(managed["namespace"]) + (managed["name"],)
table = cat.load_table(ident)
got = table.scan().to_arrow().sort_by("id")
want = sorted(managed["rows"])
assert got.column("id").to_pylist() == [r[0] for r in want], got
assert got.column("name").to_pylist() == [r[1] for r in want], got
expect(ForbiddenError, lambda: table.transaction().set_properties(x="y").commit_transaction())
expect(ForbiddenError, cat.drop_table, ident)

# DuckDB: httpfs + iceberg over the same S3 endpoint.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "py"))
import lakeduck

con = lakeduck.connect(token, os.environ["S3_ENDPOINT"])
rows = con.execute(
    f"SELECT id, name FROM iceberg_scan('{table.metadata_location}') ORDER BY id"
).fetchall()
assert [list(r) for r in rows] == want, rows
print("ok")
