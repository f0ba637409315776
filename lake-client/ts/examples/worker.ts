import { LakeCatalog } from "@dosql/lake-client";

interface Env {
  // A service binding to the DoSQL Worker (or anything with its fetch).
  DOSQL: { fetch(input: string, init?: RequestInit): Promise<Response> };
  DOSQL_TOKEN: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const table = new URL(request.url).searchParams.get("table") ?? "items";
    // Through the binding the host is never resolved: only the path counts.
    const lake = await LakeCatalog.connect({
      url: "https://dosql.internal/lake/default/iceberg",
      token: env.DOSQL_TOKEN,
      fetch: (input, init) => env.DOSQL.fetch(input, init),
    });
    const snapshots = await lake.snapshots(["dosql"], table);
    return Response.json(snapshots.map((s) => ({ id: s.snapshotId, current: s.current, lsns: s.shardLsns })));
  },
};
