/**
 * DoSQL's change stream as an async iterator: committed transactions in
 * LSN order, filtered by table and operation, over the wire protocol's
 * HTTP pipeline (`POST {db}/v1/pipeline`, `read_changes` / `ack_slot`;
 * docs/protocol.md §5, format: docs/cdc.md version 1). Works wherever
 * fetch does: Workers, Node 20+, browsers.
 *
 *   for await (const txn of subscribe({url, token, fromLsn, tables, operations})) ...
 *     read_changes{from_lsn | slot, filter} -> ChangeBatch
 *       txns     -> yielded one by one, in LSN order
 *       none     -> wait pollMs (doubling up to maxPollMs), read again
 *   ack(lsn)   -> ack_slot (streams on a slot only)
 *
 * Invariants: the iterator keeps its own position (`next_lsn` of the last
 * batch), so each transaction comes at most once per stream and reading
 * never depends on acknowledgements; after a restart, a slot resumes after
 * its acknowledged LSN (at least once: drop a `(shard, lsn)` seen before).
 * `afterSnapshot(snapshot, shard)` is the `fromLsn` right after what a
 * lake snapshot includes of that shard.
 */

import type { FetchLike, SnapshotInfo } from "./catalog.js";
import { LakeError, transportError, wireError } from "./errors.js";

// The change-stream types of the wire protocol (docs/cdc.md, version 1).
// test/types.test.ts checks they equal sql-client's generated ones.
export type WireValue =
  | null
  | number
  | string
  | { int: string | number }
  | { real: number | "Infinity" | "-Infinity" }
  | { blob: string };
export type RowOp = "insert" | "update" | "delete";
export type SchemaChange = "create" | "add_column" | "rename_column" | "drop_column" | "rename_table" | "alter" | "drop";
export interface ColumnSchema {
  name: string;
  decl_type: string;
  not_null: boolean;
  pk?: number;
  default?: WireValue;
}
export interface TableSchema {
  name: string;
  columns: ColumnSchema[];
  without_rowid: boolean;
  rowid_alias?: number;
  sql: string;
}
export interface SchemaEvent {
  table: string;
  change: SchemaChange;
  column?: string;
  previous?: string;
  schema: TableSchema;
}
export interface RowEvent {
  table: string;
  op: RowOp;
  key: WireValue[];
  before?: WireValue[];
  after?: WireValue[];
}
export type ChangeEvent = (SchemaEvent & { type: "schema" }) | (RowEvent & { type: "row" });
export interface ChangeTxn {
  shard: string;
  lsn: number;
  txn: number;
  commit_ts: number;
  commit_time_ms: number;
  events: ChangeEvent[];
}
export interface ChangeBatch {
  version: number;
  txns: ChangeTxn[];
  /** Schemas of tables whose rows the batch holds before any schema event of theirs. */
  schemas?: TableSchema[];
  next_lsn: number;
  last_lsn: number;
}

export interface SubscribeOptions {
  /** The database URL, e.g. `http://127.0.0.1:7878/db/app`. */
  url: string;
  token: string;
  /** Start at this LSN (0: the oldest the server holds). Default 0. */
  fromLsn?: number;
  /** Or start after this replication slot's acknowledged LSN. */
  slot?: string;
  /** Only these tables (case-insensitive); schema events pass with them. */
  tables?: string[];
  /** Only these row operations. */
  operations?: RowOp[];
  /** First and longest wait between empty reads (default 50 ms, 2 s). */
  pollMs?: number;
  maxPollMs?: number;
  /** Transactions per read (default 1000). */
  maxTxns?: number;
  /** Ends the iteration (cleanly) when aborted. */
  signal?: AbortSignal;
  fetch?: FetchLike;
  timeoutMs?: number;
}

/** The `fromLsn` right after what `snapshot` includes of `shard`. */
export function afterSnapshot(snapshot: SnapshotInfo, shard: string): number {
  const lsn = snapshot.shardLsns[shard];
  if (lsn === undefined) {
    throw new LakeError("NOT_FOUND", `snapshot ${snapshot.snapshotId} has no LSN for shard ${JSON.stringify(shard)}`);
  }
  return lsn + 1;
}

/** Opens a subscription; iterate it with `for await`. */
export function subscribe(options: SubscribeOptions): ChangeSubscription {
  return new ChangeSubscription(options);
}

type WireResponse = { type: string; code?: string; message?: string; retryable?: boolean } & Partial<ChangeBatch>;

export class ChangeSubscription implements AsyncIterable<ChangeTxn> {
  private nextLsn: number | undefined;
  private readonly pipeline: string;
  private readonly fetchFn: FetchLike;

  constructor(private readonly options: SubscribeOptions) {
    if (options.slot !== undefined && options.fromLsn !== undefined) {
      throw new LakeError("INVALID_INPUT", "give a slot or fromLsn, not both");
    }
    this.nextLsn = options.slot === undefined ? (options.fromLsn ?? 0) : undefined;
    this.pipeline = `${options.url.replace(/\/+$/, "")}/v1/pipeline`;
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Where the stream continues: every LSN below was delivered or filtered out. */
  get position(): number | undefined {
    return this.nextLsn;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeTxn> {
    const first = this.options.pollMs ?? 50;
    const max = Math.max(this.options.maxPollMs ?? 2000, first);
    let wait = first;
    while (!this.options.signal?.aborted) {
      const batch = await this.read();
      const moved = this.nextLsn !== batch.next_lsn;
      for (const txn of batch.txns) {
        // The position moves past each transaction as it is handed out.
        this.nextLsn = txn.lsn + 1;
        yield txn;
      }
      this.nextLsn = batch.next_lsn;
      if (batch.txns.length > 0 || moved) {
        wait = first;
        continue;
      }
      await sleep(wait, this.options.signal);
      wait = Math.min(wait * 2, max);
    }
  }

  /** Acknowledges every transaction up to `lsn` on the stream's slot. */
  async ack(lsn: number): Promise<void> {
    if (this.options.slot === undefined) {
      throw new LakeError("INVALID_INPUT", "a stream opened from an LSN has no slot to acknowledge");
    }
    await this.call({ type: "ack_slot", slot: this.options.slot, lsn });
  }

  private async read(): Promise<ChangeBatch> {
    const { tables, operations, maxTxns } = this.options;
    const filter = tables?.length || operations?.length ? { tables, ops: operations } : undefined;
    const at = this.nextLsn === undefined ? { slot: this.options.slot } : { from_lsn: this.nextLsn };
    const res = await this.call({ type: "read_changes", ...at, filter, max_txns: maxTxns ?? 1000 });
    if (res.type !== "changes" || !Array.isArray(res.txns) || typeof res.next_lsn !== "number") {
      throw new LakeError("PROTOCOL", `read_changes was answered by ${res.type}`);
    }
    return res as ChangeBatch;
  }

  private async call(request: Record<string, unknown>): Promise<WireResponse> {
    let res: Response;
    let body: string;
    try {
      res = await this.fetchFn(this.pipeline, {
        method: "POST",
        headers: { authorization: `Bearer ${this.options.token}`, "content-type": "application/json" },
        body: JSON.stringify({ requests: [request] }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      body = await res.text();
    } catch (e) {
      throw transportError(`POST ${this.pipeline}`, e);
    }
    let parsed: { responses?: WireResponse[]; error?: WireResponse };
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new LakeError(res.ok ? "PROTOCOL" : "SERVER", `HTTP ${res.status}: ${body.slice(0, 200)}`, { status: res.status });
    }
    const answer = res.ok ? parsed.responses?.[0] : parsed.error;
    if (!answer) throw new LakeError("PROTOCOL", `HTTP ${res.status}: no response in ${body.slice(0, 200)}`);
    if (!res.ok || answer.type === "error") {
      throw wireError(answer.code ?? "INTERNAL", answer.message ?? "", answer.retryable ?? false, res.status);
    }
    return answer;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
