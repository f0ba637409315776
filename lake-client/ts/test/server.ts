/**
 * The tests' dosql-server is sql-client's test harness (a fresh data
 * directory, whose lake is DATA/.lake; a known token; a free port), plus
 * helpers to seed a catalog and run SQL.
 */

import { startServer as startSqlServer, removeDir, TOKEN } from "../../../sql-client/ts/test/server.js";

export { TOKEN };

export interface Server {
  base: string;
  /** The catalog URI: `/iceberg` on dosql-server, the lake `default`'s under the Worker. */
  catalog: string;
  /** The S3 endpoint the catalog hands out. */
  s3: string;
  stop(): Promise<void>;
}

/** Where the catalog lives relative to the server's base URL. */
const LAKE_PREFIX = process.env.DOSQL_TARGET === "wrangler" ? "/lake/default" : "";

export async function startServer(): Promise<Server> {
  const s = await startSqlServer();
  const base = s.base.replace(/\/$/, "");
  return {
    base,
    catalog: `${base}${LAKE_PREFIX}/iceberg`,
    s3: `${base}${LAKE_PREFIX}/s3`,
    stop: async () => {
      await s.stop();
      removeDir(s.dataDir);
    },
  };
}

/** One catalog request with the token; the parsed answer (or throws). */
export async function catalogCall(base: string, method: string, path: string, body?: string): Promise<unknown> {
  const res = await fetch(`${base}${LAKE_PREFIX}/iceberg/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs SQL statements on database `db`, in order, over the HTTP pipeline. */
export async function sql(base: string, db: string, ...statements: string[]): Promise<void> {
  const res = await fetch(`${base}/db/${db}/v1/pipeline`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ requests: statements.map((s) => ({ type: "query", sql: s })) }),
  });
  const answer = (await res.json()) as { responses: { type: string; message?: string }[] };
  for (const r of answer.responses) {
    if (r.type === "error") throw new Error(`SQL failed: ${r.message}`);
  }
}
