import { createClient } from "@dosql/sql-client";

interface Env {
  DOSQL: DurableObjectNamespaceLike;
  DOSQL_TOKEN: string;
}

// The parts of a Durable Object namespace binding the example uses.
interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const name = new URL(request.url).searchParams.get("db") ?? "demo";
    const stub = env.DOSQL.get(env.DOSQL.idFromName(name));
    // Requests go to the DoSql Object through its binding: the host of the
    // URL is never resolved, only the path (/db/{name}/v1/batch, ...) counts.
    const db = createClient({
      url: `https://dosql.internal/db/${name}`,
      token: env.DOSQL_TOKEN,
      fetch: (input, init) => stub.fetch(input, init),
    });
    await db.batch([
      "CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, path TEXT)",
      { sql: "INSERT INTO hits (path) VALUES (?)", params: [new URL(request.url).pathname] },
    ]);
    const { rows } = await db.query<{ n: number }>("SELECT count(*) AS n FROM hits");
    return Response.json({ hits: rows[0]!.n });
  },
};
