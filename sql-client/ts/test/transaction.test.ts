// Transactions against a real dosql-server: commit, rollback, conflict
// between two clients retried, and the README examples (run, not just
// shown: README.md must contain the example files verbatim).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ConflictError, createClient, DoSqlError, type Client } from "@dosql/sql-client";
import { freshName, removeDir, startServer, TOKEN, type Server } from "./server.js";
import { quickstart } from "../examples/quickstart.js";
import worker from "../examples/worker.js";

let server: Server;
const clients: Client[] = [];

function client(name: string, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const c = createClient({ url: server.db(name), token: TOKEN, ...extra });
  clients.push(c);
  return c;
}

before(async () => {
  server = await startServer();
});
after(async () => {
  for (const c of clients) c.close();
  await server.stop();
  removeDir(server.dataDir);
});

test("a transaction commits its writes and returns the function's value", async () => {
  const db = client(freshName("commit"));
  await db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER)");
  await db.execute("INSERT INTO acct VALUES (1, 100), (2, 0)");
  const moved = await db.transaction(async (tx) => {
    await tx.execute("UPDATE acct SET bal = bal - 30 WHERE id = 1");
    await tx.execute("UPDATE acct SET bal = bal + 30 WHERE id = 2");
    const inside = await tx.query("SELECT sum(bal) AS s FROM acct");
    assert.deepEqual(inside.rows, [{ s: 100 }]);
    return 30;
  });
  assert.equal(moved, 30);
  const r = await db.query("SELECT bal FROM acct ORDER BY id");
  assert.deepEqual(r.rows, [{ bal: 70 }, { bal: 30 }]);
});

test("a throwing function rolls back and its error comes out", async () => {
  const db = client(freshName("rollback"));
  await db.execute("CREATE TABLE t (v INTEGER)");
  let kept: unknown;
  await assert.rejects(
    db.transaction(async (tx) => {
      kept = tx;
      await tx.execute("INSERT INTO t VALUES (1)");
      await tx.batch(["INSERT INTO t VALUES (2)"]);
      throw new Error("changed my mind");
    }),
    /changed my mind/,
  );
  assert.deepEqual((await db.query("SELECT count(*) AS n FROM t")).rows, [{ n: 0 }]);
  // A handle used after its transaction ended is refused.
  await assert.rejects(
    (kept as { query(sql: string): Promise<unknown> }).query("SELECT 1"),
    DoSqlError,
  );
  // A SQL error inside is not retried and rolls back too.
  let runs = 0;
  await assert.rejects(
    db.transaction(async (tx) => {
      runs++;
      await tx.execute("INSERT INTO t VALUES (3)");
      await tx.execute("INSERT INTO nope VALUES (1)");
    }),
    (e: unknown) => e instanceof DoSqlError && e.code === "NOT_FOUND",
  );
  assert.equal(runs, 1);
  assert.deepEqual((await db.query("SELECT count(*) AS n FROM t")).rows, [{ n: 0 }]);
});

test("a conflict between two clients is retried on a fresh snapshot", async () => {
  const name = freshName("conflict");
  const a = client(name);
  const b = client(name);
  await a.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)");
  await a.execute("INSERT INTO c VALUES (1, 0)");
  let attempts = 0;
  const result = await a.transaction(async (tx) => {
    attempts++;
    const seen = (await tx.query<{ n: number }>("SELECT n FROM c WHERE id = 1")).rows[0]!.n;
    if (attempts === 1) {
      // Another client commits a write to the same row meanwhile.
      await b.execute("UPDATE c SET n = n + 100 WHERE id = 1");
    }
    await tx.execute("UPDATE c SET n = ? WHERE id = 1", [seen + 1]);
    return seen;
  });
  assert.equal(attempts, 2);
  assert.equal(result, 100);
  assert.deepEqual((await a.query("SELECT n FROM c")).rows, [{ n: 101 }]);

  // With no retries left the ConflictError comes out, retryable.
  await assert.rejects(
    a.transaction(
      async (tx) => {
        await tx.query("SELECT n FROM c WHERE id = 1");
        await b.execute("UPDATE c SET n = n + 1 WHERE id = 1");
        await tx.execute("UPDATE c SET n = 0 WHERE id = 1");
      },
      { retries: 0 },
    ),
    (e: unknown) => e instanceof ConflictError && e.retryable && e.code === "CONFLICT",
  );
  assert.deepEqual((await a.query("SELECT n FROM c")).rows, [{ n: 102 }]);
});

test("transactions need a WebSocket", async () => {
  const db = client(freshName("httptx"), { WebSocket: null });
  await assert.rejects(db.transaction(async () => 1), /need a WebSocket/);
});

test("README: the examples are the files the tests run", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  for (const file of ["quickstart.ts", "worker.ts"]) {
    const text = readFileSync(new URL(`../../examples/${file}`, import.meta.url), "utf8");
    assert.ok(readme.includes(text.trim()), `README.md must contain examples/${file} verbatim`);
  }
});

test("README quickstart example", async () => {
  const out = await quickstart(server.db(freshName("quick")), TOKEN);
  assert.equal(out.lastInsertRowid, 1);
  assert.deepEqual(out.rows, [
    { name: "pen", price: 2, stock: 10 },
    { name: "ink", price: 4.5, stock: 9007199254740993n },
  ]);
  assert.equal(out.duplicate, true);
});

test("README Worker example: a Durable Object binding via a custom fetch", async () => {
  // A stand-in for the DOSQL namespace binding: each stub forwards the
  // request's path to the real server, as the DoSql Object would serve it.
  const seen: string[] = [];
  const env = {
    DOSQL_TOKEN: TOKEN,
    DOSQL: {
      idFromName: (name: string) => ({ name }),
      get: (id: unknown) => ({
        fetch: (input: string, init?: RequestInit) => {
          const path = new URL(input).pathname;
          seen.push(`${(id as { name: string }).name} ${path}`);
          return fetch(`${server.base}${path}`, init);
        },
      }),
    },
  };
  const name = freshName("worker");
  for (const expected of [1, 2]) {
    const res = await worker.fetch(new Request(`https://app.example/hit?db=${name}`), env);
    assert.deepEqual(await res.json(), { hits: expected });
  }
  assert.ok(seen.includes(`${name} /db/${name}/v1/batch`), seen.join("\n"));
  assert.ok(seen.includes(`${name} /db/${name}/v1/pipeline`), seen.join("\n"));
});
