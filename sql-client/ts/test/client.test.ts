// End-to-end tests of the SDK against a real dosql-server: CRUD over
// WebSocket and HTTP, values (bigint, blobs, reals), typed errors,
// prepared statements, batches, timeouts and reconnection.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthError,
  ConstraintError,
  createClient,
  DoSqlError,
  NotFoundError,
  Real,
  RequestTimeoutError,
  SqlSyntaxError,
  TransportError,
  type Client,
} from "@dosql/sql-client";
import { freshName, removeDir, startServer, TOKEN, type Server } from "./server.js";

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

for (const transport of ["websocket", "http"] as const) {
  describe(`CRUD over ${transport}`, () => {
    test("create, insert, select, update, delete", async () => {
      const db = client(freshName("crud"), transport === "http" ? { WebSocket: null } : {});
      assert.equal(await db.usesWebSocket(), transport === "websocket");
      await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)");
      const first = await db.execute("INSERT INTO t (v, n) VALUES (?, ?)", ["a", 1]);
      assert.deepEqual(first, { rowsAffected: 1, lastInsertRowid: 1 });
      await db.execute("INSERT INTO t (v, n) VALUES (:v, :n)", { v: "b", n: 2 });
      await db.execute("INSERT INTO t (v, n) VALUES (?1, ?2)", ["c", null]);
      const r = await db.query<{ id: number; v: string; n: number | null }>(
        "SELECT id, v, n FROM t ORDER BY id",
      );
      assert.deepEqual(r.columns, ["id", "v", "n"]);
      assert.deepEqual(r.rows, [
        { id: 1, v: "a", n: 1 },
        { id: 2, v: "b", n: 2 },
        { id: 3, v: "c", n: null },
      ]);
      assert.deepEqual(r.rowsRaw[2], [3, "c", null]);
      const upd = await db.execute("UPDATE t SET n = n + 10 WHERE n IS NOT NULL");
      assert.equal(upd.rowsAffected, 2);
      assert.equal((await db.execute("DELETE FROM t WHERE id = ?", [1])).rowsAffected, 1);
      const left = await db.query("SELECT sum(n) AS s, count(*) AS c FROM t");
      assert.deepEqual(left.rows, [{ s: 12, c: 2 }]);
      assert.ok((await db.ping()) >= 0);
      const schema = await db.schema();
      assert.deepEqual(
        schema.tables.map((t) => [t.name, t.kind, t.columns.map((c) => c.name)]),
        [["t", "table", ["id", "v", "n"]]],
      );
    });
  });
}

test("requests are pipelined over one WebSocket and matched by id", async () => {
  const db = client(freshName("pipe"));
  const answers = await Promise.all(
    Array.from({ length: 100 }, (_, i) => db.query("SELECT ? * 2 AS x", [i])),
  );
  assert.deepEqual(
    answers.map((a) => a.rows[0]!.x),
    Array.from({ length: 100 }, (_, i) => i * 2),
  );
});

test("an injected WebSocket constructor is used (Node 20 passes the ws package's)", async () => {
  let opened = 0;
  class Counting extends WebSocket {
    constructor(url: string) {
      super(url);
      opened++;
    }
  }
  const db = client(freshName("inject"), { WebSocket: Counting });
  await Promise.all([db.query("SELECT 1"), db.query("SELECT 2")]);
  await db.transaction(async (tx) => tx.query("SELECT 3"));
  assert.equal(opened, 2); // the shared socket and one for the transaction
  // A custom fetch without a WebSocket option means HTTP only.
  const viaFetch = client(freshName("fetch"), { fetch: (input, init) => fetch(input, init) });
  assert.equal(await viaFetch.usesWebSocket(), false);
  assert.deepEqual((await viaFetch.query("SELECT 4 AS x")).rows, [{ x: 4 }]);
});

test("a request over 1 MiB goes over HTTP and still works", async () => {
  const db = client(freshName("big"));
  await db.execute("CREATE TABLE big (v TEXT)");
  const text = "x".repeat(1_500_000);
  await db.execute("INSERT INTO big VALUES (?)", [text]);
  const [insert] = await db.batch([{ sql: "INSERT INTO big VALUES (?)", params: [text + "y"] }]);
  assert.equal(insert!.rowsAffected, 1);
  const r = await db.query("SELECT length(v) AS n FROM big ORDER BY n");
  assert.deepEqual(r.rows, [{ n: 1_500_000 }, { n: 1_500_001 }]);
  assert.equal(await db.usesWebSocket(), true);
});

describe("values", () => {
  test("64-bit integers round-trip exactly (mixed mode)", async () => {
    const db = client(freshName("ints"));
    await db.execute("CREATE TABLE n (v INTEGER)");
    const min = -(2n ** 63n);
    const max = 2n ** 63n - 1n;
    for (const v of [min, max, 9007199254740991n, -9007199254740992n, 0n]) {
      await db.execute("INSERT INTO n VALUES (?)", [v]);
    }
    const r = await db.query("SELECT v, typeof(v) AS t FROM n ORDER BY rowid");
    assert.deepEqual(
      r.rows.map((x) => x.v),
      [min, max, 9007199254740991, -9007199254740992n, 0],
    );
    assert.ok(r.rows.every((x) => x.t === "integer"));
    const sum = await db.query("SELECT ? + 1 AS v", [max - 1n]);
    assert.equal(sum.rows[0]!.v, max);
    const ins = await db.execute("INSERT INTO n (rowid, v) VALUES (?, 1)", [max]);
    assert.equal(ins.lastInsertRowid, max);
    await assert.rejects(db.query("SELECT ?", [2n ** 63n]), RangeError);
  });

  test("intMode bigint and number", async () => {
    const big = client(freshName("bigint"), { intMode: "bigint" });
    const r = await big.query("SELECT 1 AS i, 1.0 AS r, 2.5 AS f, ? AS m", [-(2n ** 63n)]);
    assert.deepEqual(r.rows[0], { i: 1n, r: 1, f: 2.5, m: -(2n ** 63n) });
    const num = client(freshName("number"), { intMode: "number" });
    const n = await num.query("SELECT ? AS m, 7 AS s", [2n ** 62n]);
    assert.deepEqual(n.rows[0], { m: 2 ** 62, s: 7 });
  });

  test("reals, integers, booleans and infinities bind by their JS type", async () => {
    const db = client(freshName("reals"));
    const r = await db.query(
      "SELECT typeof(?1) AS a, typeof(?2) AS b, typeof(?3) AS c, ?3 AS cv, typeof(?4) AS d, ?5 AS e, ?6 AS f, ?7 AS g",
      [2, new Real(2), 2.5, 1e300, true, Infinity, NaN],
    );
    assert.deepEqual(r.rows[0], {
      a: "integer",
      b: "real",
      c: "real",
      cv: 2.5,
      d: "real",
      e: 1,
      f: Infinity,
      g: null,
    });
  });

  test("blobs round-trip as Uint8Array", async () => {
    for (const transport of [{}, { WebSocket: null }]) {
      const db = client(freshName("blob"), transport);
      await db.execute("CREATE TABLE b (v BLOB)");
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await db.execute("INSERT INTO b VALUES (?)", [all]);
      await db.execute("INSERT INTO b VALUES (?)", [new Uint8Array(0)]);
      await db.execute("INSERT INTO b VALUES (?)", [all.buffer]);
      const r = await db.query("SELECT v, typeof(v) AS t, length(v) AS n FROM b ORDER BY rowid");
      assert.deepEqual(r.rows, [
        { v: all, t: "blob", n: 256 },
        { v: new Uint8Array(0), t: "blob", n: 0 },
        { v: all, t: "blob", n: 256 },
      ]);
      const z = await db.query("SELECT zeroblob(3) AS z");
      assert.deepEqual(z.rows[0]!.z, new Uint8Array(3));
    }
  });

  test("unsupported parameter types are refused before sending", async () => {
    const db = client(freshName("badparam"));
    await assert.rejects(db.query("SELECT ?", [{} as never]), TypeError);
  });
});

describe("typed errors", () => {
  test("syntax, constraint, not found; over WebSocket and HTTP", async () => {
    for (const transport of [{}, { WebSocket: null }]) {
      const db = client(freshName("errs"), transport);
      await assert.rejects(db.query("SELEC 1"), (e: unknown) => {
        assert.ok(e instanceof SqlSyntaxError && e instanceof DoSqlError);
        assert.equal(e.code, "SYNTAX");
        assert.equal(e.retryable, false);
        return true;
      });
      await db.execute("CREATE TABLE u (k INTEGER PRIMARY KEY)");
      await db.execute("INSERT INTO u VALUES (1)");
      await assert.rejects(db.execute("INSERT INTO u VALUES (1)"), (e: unknown) => {
        assert.ok(e instanceof ConstraintError);
        assert.equal(e.code, "CONSTRAINT");
        return true;
      });
      await assert.rejects(db.query("SELECT * FROM nope"), NotFoundError);
    }
  });

  test("a wrong token is an AuthError, whatever the transport", async () => {
    for (const transport of [{}, { WebSocket: null }]) {
      const db = createClient({ url: server.db("auth"), token: "wrong", ...transport });
      clients.push(db);
      await assert.rejects(db.query("SELECT 1"), (e: unknown) => {
        assert.ok(e instanceof AuthError, String(e));
        assert.equal(e.code, "AUTH");
        return true;
      });
      await assert.rejects(db.batch(["SELECT 1"]), AuthError);
    }
  });

  test("an unreachable server is a TransportError", async () => {
    const db = createClient({ url: "http://127.0.0.1:1/db/x", token: TOKEN, timeoutMs: 5000 });
    await assert.rejects(db.query("SELECT 1"), TransportError);
    db.close();
  });
});

test("prepared statements run many times and close", async () => {
  for (const transport of [{}, { WebSocket: null }]) {
    const db = client(freshName("prep"), transport);
    await db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)");
    const insert = db.prepare("INSERT INTO p (v) VALUES (?)");
    for (const v of ["a", "b", "c"]) await insert.execute([v]);
    const byId = db.prepare("SELECT v FROM p WHERE id = :id");
    assert.deepEqual((await byId.query({ id: 2 })).rows, [{ v: "b" }]);
    assert.deepEqual((await byId.query({ id: 3 })).rows, [{ v: "c" }]);
    await insert.close();
    await assert.rejects(insert.execute(["d"]), DoSqlError);
    await byId.close();
    await assert.rejects(db.prepare("SELECT * FROM missing").query(), NotFoundError);
  }
});

describe("batches", () => {
  test("a failing transactional batch rolls back and names the statement", async () => {
    for (const transport of [{}, { WebSocket: null }]) {
      const db = client(freshName("batch"), transport);
      const made = await db.batch([
        "CREATE TABLE b (k INTEGER PRIMARY KEY)",
        { sql: "INSERT INTO b VALUES (?)", params: [1] },
        "SELECT count(*) AS n FROM b",
      ]);
      assert.deepEqual(made[2]!.rows, [{ n: 1 }]);
      await assert.rejects(
        db.batch([
          { sql: "INSERT INTO b VALUES (?)", params: [2] },
          { sql: "INSERT INTO b VALUES (?)", params: [1] },
        ]),
        (e: unknown) => {
          assert.ok(e instanceof ConstraintError);
          assert.equal(e.statement, 1);
          return true;
        },
      );
      assert.deepEqual((await db.query("SELECT k FROM b")).rows, [{ k: 1 }]);
      await assert.rejects(
        db.batch(["INSERT INTO b VALUES (3)", "INSERT INTO b VALUES (1)"], {
          transactional: false,
        }),
        ConstraintError,
      );
      assert.deepEqual((await db.query("SELECT k FROM b ORDER BY k")).rows, [{ k: 1 }, { k: 3 }]);
    }
  });
});

const SLOW =
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c";

test("a request without an answer in time rejects with RequestTimeoutError", async () => {
  // The database is created first with the default timeout: abandoning a
  // connection while the server creates a database is another matter.
  const name = freshName("timeout");
  await client(name).execute("CREATE TABLE t (v INTEGER)");
  const db = client(name, { timeoutMs: 20 });
  await assert.rejects(db.query(SLOW), RequestTimeoutError);
});

test("a drop rejects in-flight requests; the next call reconnects", async () => {
  const own = await startServer();
  const db = createClient({ url: own.db("drop"), token: TOKEN });
  try {
    await db.execute("CREATE TABLE d (v INTEGER)");
    await db.execute("INSERT INTO d VALUES (1)");
    // The handler is attached at once: the rejection comes during stop().
    const inFlight = assert.rejects(db.query(SLOW), TransportError);
    await new Promise((r) => setTimeout(r, 50));
    await own.stop();
    await inFlight;
    const again = await startServer(own.addr, own.dataDir);
    try {
      assert.equal(await db.usesWebSocket(), true);
      assert.deepEqual((await db.query("SELECT v FROM d")).rows, [{ v: 1 }]);
    } finally {
      await again.stop();
    }
  } finally {
    db.close();
    removeDir(own.dataDir);
  }
});
