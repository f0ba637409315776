// The README's example, run against the live pipeline: rows written to a
// database reach a lake snapshot (DoLake's flush), and the change stream
// continues exactly after what that snapshot includes.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";

import { LakeCatalog, LakeError, subscribe } from "@dosql/lake-client";
import { follow } from "../examples/follow.js";
import worker from "../examples/worker.js";
import { sql, startServer, TOKEN, type Server } from "./server.js";

let server: Server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

test("README: the examples are the files the tests run", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  for (const file of ["follow.ts", "worker.ts"]) {
    const text = readFileSync(new URL(`../../examples/${file}`, import.meta.url), "utf8");
    assert.ok(readme.includes(text.trim()), `README.md must contain examples/${file} verbatim`);
  }
});

test("README example: a lake snapshot, then the changes after it", async () => {
  await sql(server.base, "app", "CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO items VALUES (1, 'a'), (2, 'b')");
  // DoLake flushes on its age policy (5 s by default).
  const lake = await LakeCatalog.connect({ url: server.catalog, token: TOKEN });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await lake.table(["dosql"], "items")).snapshots.length > 0) break;
    } catch (e) {
      if (!(e instanceof LakeError && e.kind === "NOT_FOUND")) throw e;
    }
    assert.ok(Date.now() < deadline, "no lake snapshot of dosql.items within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  await sql(server.base, "app", "INSERT INTO items VALUES (3, 'c')");
  const lsn3 = await lsnOfKey(3);

  const out = await follow({
    catalogUrl: server.catalog,
    dbUrl: `${server.base}/db/app`,
    db: "app",
    table: "items",
    token: TOKEN,
    waitMs: 1_500,
  });
  assert.match(out.snapshotId, /^-?\d+$/);
  // Every change streamed is one the snapshot does not include.
  assert.ok(out.changes.every((t) => t.lsn > out.lsn), JSON.stringify(out));
  const inserted = out.changes.flatMap((t) => t.events.flatMap((e) => (e.type === "row" ? [e.key] : [])));
  // Row 3 is either in the stream or, if a flush took it first, in the
  // snapshot (whose LSN then covers it); never in both, never in neither.
  if (inserted.length > 0) {
    assert.deepEqual(inserted, [[3]]);
  } else {
    assert.ok(out.lsn >= lsn3, `snapshot LSN ${out.lsn} must cover the third row's ${lsn3}`);
  }
});

/** The LSN of the transaction that inserted `key` into items. */
async function lsnOfKey(key: number): Promise<number> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 20_000);
  try {
    for await (const txn of subscribe({ url: `${server.base}/db/app`, token: TOKEN, tables: ["items"], signal: stop.signal })) {
      if (txn.events.some((e) => e.type === "row" && e.op === "insert" && e.key[0] === key)) return txn.lsn;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`no insert of key ${key} in the stream`);
}

test("README Workers example: snapshots through a binding", async () => {
  // The binding forwards to the test's server: the catalog's path under
  // the Worker is /lake/default/iceberg, which server.catalog maps.
  const env = {
    DOSQL_TOKEN: TOKEN,
    DOSQL: {
      fetch: (input: string, init?: RequestInit) => {
        const path = new URL(input).pathname.replace(/^\/lake\/default\/iceberg/, "");
        return fetch(`${server.catalog}${path}${new URL(input).search}`, init);
      },
    },
  };
  const res = await worker.fetch(new Request("https://app.example/?table=items"), env);
  assert.equal(res.status, 200);
  const snaps = (await res.json()) as { id: string; current: boolean; lsns: Record<string, number> }[];
  assert.ok(snaps.length >= 1, JSON.stringify(snaps));
  assert.equal(snaps.filter((s) => s.current).length, 1);
  assert.ok(snaps.every((s) => s.lsns.app! > 0), JSON.stringify(snaps));
});
