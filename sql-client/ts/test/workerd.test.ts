// The README's Worker example (examples/worker.ts) in workerd: served by
// the test Worker of tests/e2e/sdk-worker through a real Durable Object
// binding to the DoSql class, under `wrangler dev`. transaction.test.ts
// runs the same module in Node with a stand-in binding; this proves the
// binding path itself. Only with DOSQL_TARGET=wrangler.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@dosql/sql-client";
import { freshName, removeDir, startSdkWorker, TOKEN } from "./server.js";

const skip = process.env.DOSQL_TARGET !== "wrangler" && "workerd only (DOSQL_TARGET=wrangler)";

test("README Worker example in workerd: hits through the DOSQL binding", { skip }, async () => {
  const server = await startSdkWorker();
  try {
    const name = freshName("workerd");
    for (const expected of [1, 2]) {
      const res = await fetch(`${server.base}/sql?db=${name}`);
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(await res.json(), { hits: expected });
    }
    // The Object the binding reached is the database `name` the DoSQL
    // Worker serves at /db/{name}: the example's rows are there.
    const db = createClient({ url: server.db(name), token: TOKEN });
    try {
      const { rows } = await db.query("SELECT path FROM hits ORDER BY id");
      assert.deepEqual(rows, [{ path: "/sql" }, { path: "/sql" }]);
    } finally {
      db.close();
    }
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
});
