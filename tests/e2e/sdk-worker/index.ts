// The test Worker of wrangler.toml here: serves the SDKs' README Worker
// examples, imported as they are, under /sql (sql-client, a Durable Object
// binding) and /lake (lake-client, a service binding), and forwards every
// other request to the DoSQL Worker, so that the tests' health check and
// plain /db requests work on its port as on the DoSQL Worker's.
// Type-checked by lake-client/ts/tsconfig.test.json.

import sqlExample from "../../../sql-client/ts/examples/worker.js";
import lakeExample from "../../../lake-client/ts/examples/worker.js";

type SqlEnv = Parameters<typeof sqlExample.fetch>[1];
type LakeEnv = Parameters<typeof lakeExample.fetch>[1];

interface Env {
  // Both examples call their binding DOSQL, of different kinds: each has
  // a name of its own in wrangler.toml and is handed over as DOSQL.
  DOSQL_OBJECTS: SqlEnv["DOSQL"];
  DOSQL_SERVICE: LakeEnv["DOSQL"] & { fetch(request: Request): Promise<Response> };
  // The DoSQL Worker's token (the tests' --env-file).
  DOSQL_TOKEN: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path === "/sql") return await sqlExample.fetch(request, { DOSQL: env.DOSQL_OBJECTS, DOSQL_TOKEN: env.DOSQL_TOKEN });
      if (path === "/lake") return await lakeExample.fetch(request, { DOSQL: env.DOSQL_SERVICE, DOSQL_TOKEN: env.DOSQL_TOKEN });
    } catch (e) {
      // What the example threw (a LakeError's kind, say), for the tests
      // to assert on, rather than workerd's bare 500.
      const { name, message, kind } = e as Error & { kind?: string };
      return Response.json({ error: { name, message, kind } }, { status: 500 });
    }
    return env.DOSQL_SERVICE.fetch(request);
  },
};
