import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { LakeCatalog, LakeError } from "@dosql/lake-client";
import { catalogCall, startServer, TOKEN, type Server } from "./server.js";

let server: Server;
// Beyond 2^53: must come back exact.
const BIG = "9007199254740993";

before(async () => {
  server = await startServer();
  await catalogCall(server.base, "POST", "/namespaces", JSON.stringify({ namespace: ["dolake"] }));
  await catalogCall(server.base, "POST", "/namespaces", JSON.stringify({ namespace: ["dolake", "app"] }));
  await catalogCall(server.base, "POST", "/namespaces", JSON.stringify({ namespace: ["shop"] }));
  const schema = {
    type: "struct",
    "schema-id": 0,
    fields: [
      { id: 1, name: "id", required: true, type: "long" },
      { id: 2, name: "item", required: false, type: "string" },
    ],
  };
  await catalogCall(server.base, "POST", "/namespaces/dolake%1Fapp/tables", JSON.stringify({ name: "orders", schema }));
  // Two snapshots with DoLake's per-shard LSN summaries; the body is
  // written by hand so that the big id is not rounded on the way in.
  const ml = "s3://lake/warehouse/dolake/app/orders/metadata";
  const body = `{"updates": [
    {"action": "add-snapshot", "snapshot": {"snapshot-id": 7, "sequence-number": 1, "timestamp-ms": 1000,
      "manifest-list": "${ml}/snap-7.avro", "summary": {"operation": "append", "dolake.lsn.app": "12"}, "schema-id": 0}},
    {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 7},
    {"action": "add-snapshot", "snapshot": {"snapshot-id": ${BIG}, "parent-snapshot-id": 7, "sequence-number": 2,
      "timestamp-ms": 2000, "manifest-list": "${ml}/snap-big.avro",
      "summary": {"operation": "overwrite", "dolake.lsn.app": "30", "dolake.lsn.eu": "4"}}},
    {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": ${BIG}}]}`;
  await catalogCall(server.base, "POST", "/namespaces/dolake%1Fapp/tables/orders", body);
});

after(async () => {
  await server?.stop();
});

test("browses namespaces, tables and snapshots with their LSNs", async () => {
  const lake = await LakeCatalog.connect({ url: server.catalog, token: TOKEN });
  assert.equal(lake.storage["s3.endpoint"], server.s3);
  assert.deepEqual(await lake.namespaces(), [["dolake"], ["dolake", "app"], ["shop"]]);
  assert.deepEqual(await lake.childNamespaces(["dolake"]), [["dolake", "app"]]);
  assert.deepEqual(await lake.tables(["dolake", "app"]), [{ namespace: ["dolake", "app"], name: "orders" }]);
  assert.deepEqual(await lake.tables(["shop"]), []);

  const t = await lake.table(["dolake", "app"], "orders");
  assert.equal(t.location, "s3://lake/warehouse/dolake/app/orders");
  assert.match(t.metadataLocation!, /^s3:\/\/lake\/warehouse\/dolake\/app\/orders\/metadata\/00002-.*\.metadata\.json$/);
  assert.equal(t.currentSnapshotId, BIG);
  assert.deepEqual(t.columns, [
    { id: 1, name: "id", required: true, type: "long" },
    { id: 2, name: "item", required: false, type: "string" },
  ]);
  assert.equal(t.storage["s3.endpoint"], server.s3);

  const snaps = await lake.snapshots(["dolake", "app"], "orders");
  assert.deepEqual(
    snaps.map((s) => [s.snapshotId, s.parentSnapshotId, s.operation, s.shardLsns, s.current, s.timestampMs]),
    [
      ["7", undefined, "append", { app: 12 }, false, 1000],
      [BIG, "7", "overwrite", { app: 30, eu: 4 }, true, 2000],
    ],
  );
  assert.equal(snaps[1]!.summary["dolake.lsn.eu"], "4");
  assert.equal(snaps[1]!.sequenceNumber, 2);
});

test("errors are typed", async () => {
  const url = server.catalog;
  await assert.rejects(LakeCatalog.connect({ url, token: "wrong" }), (e: LakeError) => {
    assert.equal(e.kind, "UNAUTHORIZED");
    assert.equal(e.type, "NotAuthorizedException");
    assert.equal(e.status, 401);
    return true;
  });
  const lake = await LakeCatalog.connect({ url, token: TOKEN });
  await assert.rejects(lake.table(["dolake", "app"], "nope"), (e: LakeError) => e.kind === "NOT_FOUND" && e.type === "NoSuchTableException");
  await assert.rejects(lake.tables(["nowhere"]), (e: LakeError) => e.kind === "NOT_FOUND" && e.type === "NoSuchNamespaceException");
  await assert.rejects(lake.table(["shop"], ".."), (e: LakeError) => e.kind === "INVALID_INPUT");
  await assert.rejects(lake.tables([]), (e: LakeError) => e.kind === "INVALID_INPUT");
  await assert.rejects(LakeCatalog.connect({ url: "ftp://x/iceberg", token: TOKEN }), (e: LakeError) => e.kind === "INVALID_INPUT");
  await assert.rejects(
    LakeCatalog.connect({ url: "http://127.0.0.1:9/iceberg", token: TOKEN }),
    (e: LakeError) => e.kind === "TRANSPORT" && e.retryable,
  );
});
