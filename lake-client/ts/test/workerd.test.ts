// The README's Workers example (examples/worker.ts) in workerd: served by
// the test Worker of tests/e2e/sdk-worker through a real service binding
// to the DoSQL Worker, under `wrangler dev`. example.test.ts runs the same
// module in Node with a stand-in binding; this proves the binding path
// itself, up to a snapshot DoLake flushed. Only with DOSQL_TARGET=wrangler.

import assert from "node:assert/strict";
import { test } from "node:test";

import { freshName, removeDir, startSdkWorker } from "../../../sql-client/ts/test/server.js";

const skip = process.env.DOSQL_TARGET !== "wrangler" && "workerd only (DOSQL_TARGET=wrangler)";

type Snapshots = { id: string; current: boolean; lsns: Record<string, number> }[];
type Failure = { error: { name: string; kind?: string; message: string } };

/** The catalog's message, asserting that the example threw a NOT_FOUND LakeError. */
function notFound(status: number, body: Snapshots | Failure): string {
  assert.equal(status, 500, JSON.stringify(body));
  const { error } = body as Failure;
  assert.deepEqual([error.name, error.kind], ["LakeError", "NOT_FOUND"], error.message);
  return error.message;
}

test("README Workers example in workerd: snapshots through the DOSQL service binding", { skip }, async () => {
  const server = await startSdkWorker();
  const lake = async (table: string): Promise<[number, Snapshots | Failure]> => {
    const res = await fetch(`${server.base}/lake?table=${table}`);
    return [res.status, (await res.json()) as Snapshots | Failure];
  };
  try {
    // Nothing shipped yet: the catalog's NOT_FOUND reaches the example as
    // a LakeError (the test Worker reports what the example threw).
    notFound(...(await lake("hits")));

    // sql-client's example writes `hits` rows in database `name`; the
    // Object ships them to DoLake, which flushes on its age policy (5 s).
    const name = freshName("workerd");
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${server.base}/sql?db=${name}`)).status, 200);
    const deadline = Date.now() + 60_000;
    let [status, body] = await lake("hits");
    while (status !== 200) {
      const message = notFound(status, body);
      assert.ok(Date.now() < deadline, `no lake snapshot of dosql.hits within 60 s: ${message}`);
      await new Promise((r) => setTimeout(r, 500));
      [status, body] = await lake("hits");
    }
    const snapshots = body as Snapshots;
    assert.ok(snapshots.length >= 1, JSON.stringify(snapshots));
    assert.equal(snapshots.filter((s) => s.current).length, 1, JSON.stringify(snapshots));
    assert.ok(snapshots.every((s) => /^-?\d+$/.test(s.id) && s.lsns[name]! > 0), JSON.stringify(snapshots));

    assert.match(notFound(...(await lake("no_such_table"))), /NoSuchTableException/);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});
