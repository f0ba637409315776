import { afterSnapshot, LakeCatalog, subscribe, type ChangeTxn } from "@dosql/lake-client";

/**
 * What the lake holds of SQL table `table` of database `db`, and the
 * changes committed after it: the catalog's current snapshot of
 * `dosql.<table>` records, per database (shard), the last LSN it
 * includes; the change stream continues right after it.
 */
export async function follow(opts: {
  catalogUrl: string; // e.g. http://127.0.0.1:8787/lake/default/iceberg
  dbUrl: string; // e.g. http://127.0.0.1:8787/db/app
  db: string;
  table: string;
  token: string;
  waitMs: number; // how long to follow the stream
}): Promise<{ snapshotId: string; lsn: number; changes: ChangeTxn[] }> {
  const lake = await LakeCatalog.connect({ url: opts.catalogUrl, token: opts.token });
  const table = await lake.table(["dosql"], opts.table);
  const current = table.snapshots.find((s) => s.current);
  if (!current) throw new Error(`dosql.${opts.table} has no snapshot yet`);
  const fromLsn = afterSnapshot(current, opts.db);

  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), opts.waitMs);
  const changes: ChangeTxn[] = [];
  const stream = subscribe({ url: opts.dbUrl, token: opts.token, fromLsn, tables: [opts.table], signal: stop.signal });
  for await (const txn of stream) changes.push(txn);
  clearTimeout(timer);
  return { snapshotId: current.snapshotId, lsn: fromLsn - 1, changes };
}
