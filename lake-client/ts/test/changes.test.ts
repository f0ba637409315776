import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { afterSnapshot, LakeError, subscribe, type ChangeTxn, type SnapshotInfo } from "@dosql/lake-client";
import { sql, startServer, TOKEN, type Server } from "./server.js";

let server: Server;

before(async () => {
  server = await startServer();
  await sql(
    server.base,
    "app",
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT)",
    "CREATE TABLE audit(id INTEGER PRIMARY KEY, note TEXT)",
    "INSERT INTO orders(item) VALUES ('pen')",
    "INSERT INTO orders(item) VALUES ('ink')",
    "INSERT INTO audit(note) VALUES ('not orders')",
    "UPDATE orders SET item = 'nib' WHERE id = 1",
    "DELETE FROM orders WHERE id = 2",
  );
});

after(async () => {
  await server?.stop();
});

/** (table, op, key) of each row event. */
function rows(txn: ChangeTxn): unknown[] {
  return txn.events.flatMap((e) => (e.type === "row" ? [[e.table, e.op, e.key]] : []));
}

/** The first `n` transactions of a stream, then stops it. */
async function take(n: number, opts: Parameters<typeof subscribe>[0]): Promise<ChangeTxn[]> {
  const out: ChangeTxn[] = [];
  const timeout = setTimeout(() => assert.fail(`fewer than ${n} transactions within 20 s`), 20_000);
  for await (const txn of subscribe(opts)) {
    out.push(txn);
    if (out.length === n) break;
  }
  clearTimeout(timeout);
  return out;
}

const base = () => ({ url: `${server.base}/db/app`, token: TOKEN, pollMs: 10, maxPollMs: 100 });

test("the stream is filtered by table and operation, in LSN order", async () => {
  const all = await take(5, { ...base(), tables: ["orders"] });
  assert.equal(all[0]!.events[0]!.type, "schema"); // CREATE TABLE orders
  assert.deepEqual(all.slice(1).map(rows), [
    [["orders", "insert", [1]]],
    [["orders", "insert", [2]]],
    [["orders", "update", [1]]],
    [["orders", "delete", [2]]],
  ]);
  assert.ok(all.every((t, i) => t.shard === "app" && (i === 0 || t.lsn > all[i - 1]!.lsn)));

  // After a lake snapshot that includes the first insert, only later
  // updates and deletes of orders.
  const snapshot = { snapshotId: "1", shardLsns: { app: all[1]!.lsn } } as unknown as SnapshotInfo;
  const fromLsn = afterSnapshot(snapshot, "app");
  assert.equal(fromLsn, all[1]!.lsn + 1);
  const changed = await take(2, { ...base(), fromLsn, tables: ["orders"], operations: ["update", "delete"] });
  assert.deepEqual(changed.map((t) => t.lsn), [all[3]!.lsn, all[4]!.lsn]);
  assert.throws(() => afterSnapshot(snapshot, "other"), (e: LakeError) => e.kind === "NOT_FOUND");
});

test("an open stream waits for new changes and stops on abort", async () => {
  const stop = new AbortController();
  const stream = subscribe({ ...base(), fromLsn: 0, tables: ["audit"], operations: ["delete"], signal: stop.signal });
  const seen: unknown[] = [];
  let last = 0;
  const done = (async () => {
    for await (const txn of stream) {
      // Schema events pass with their table (the CREATE of audit);
      // the insert into audit does not pass the operation filter.
      seen.push(...rows(txn));
      last = txn.lsn;
      if (seen.length > 0) stop.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(seen, []);
  await sql(server.base, "app", "DELETE FROM audit WHERE id = 1");
  await done;
  assert.deepEqual(seen, [["audit", "delete", [1]]]);
  assert.ok(stream.position! > last);
});

test("wire errors are typed", async () => {
  const bad = subscribe({ ...base(), token: "wrong" });
  await assert.rejects(bad[Symbol.asyncIterator]().next(), (e: LakeError) => e.kind === "UNAUTHORIZED");
  const noSlot = subscribe({ ...base(), slot: "missing" });
  await assert.rejects(noSlot[Symbol.asyncIterator]().next(), (e: LakeError) => e.kind === "NOT_FOUND");
  await assert.rejects(subscribe({ ...base() }).ack(3), (e: LakeError) => e.kind === "INVALID_INPUT");
});
