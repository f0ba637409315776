/**
 * Interactive transactions with automatic retry on conflict.
 *
 * ```text
 *   attempt:  dedicated socket ── BEGIN ── fn(tx) ── COMMIT ──> value
 *                                   │ error     │ error
 *                                   └─ ROLLBACK ┴─> retryable? backoff, next attempt
 *                                                   otherwise   throw the error
 * ```
 *
 * A transaction runs on a socket of its own (other callers' statements on
 * the shared socket would otherwise land inside it). DoSQL is MVCC with
 * first-committer-wins: a write or the COMMIT may fail with CONFLICT, and
 * then `fn` runs again on a fresh snapshot after a jittered exponential
 * backoff (base 10 ms, cap 1 s), at most `retries` more times. A socket
 * that drops mid-transaction fails it with a TransportError, never
 * retried: had it dropped during COMMIT, the commit may have applied.
 */

import type { BeginMode, Request, Response } from "./protocol.gen.js";
import { LIMITS } from "./protocol.gen.js";
import { DoSqlError, LimitExceededError } from "./errors.js";
import type { BatchStatement, Client } from "./client.js";
import { toWireStatements } from "./client.js";
import { exceedsFrameLimit, unwrap, type WsConnection } from "./transport.js";
import {
  manyResults,
  oneResult,
  toExecuteResult,
  toQueryResult,
  type ExecuteResult,
  type QueryResult,
  type Row,
} from "./results.js";
import { encodeParams, type InParams } from "./values.js";

export interface TransactionOptions {
  /** "deferred" (default) or "immediate". */
  mode?: BeginMode;
  /** Attempts after the first (default: the client's transactionRetries). */
  retries?: number;
}

const BASE_DELAY_MS = 10;
const MAX_DELAY_MS = 1_000;

/** A random delay in [d/2, d], d doubling from the base up to the cap. */
function backoff(attempt: number): number {
  const full = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(attempt, 16));
  return full / 2 + Math.random() * (full / 2);
}

/** The open transaction handed to the function of `client.transaction`;
 * using it after that function returned is an error. */
export class Transaction {
  /** @internal */ finished = false;

  /** @internal */
  constructor(
    private readonly client: Client,
    private readonly conn: WsConnection,
  ) {}

  async query<T = Row>(sql: string, params?: InParams): Promise<QueryResult<T>> {
    const r = await this.call({ type: "query", sql, params: encodeParams(params) });
    return toQueryResult<T>(oneResult(r), this.client.endpoint.intMode);
  }

  async execute(sql: string, params?: InParams): Promise<ExecuteResult> {
    const r = await this.call({ type: "query", sql, params: encodeParams(params) });
    return toExecuteResult(oneResult(r), this.client.endpoint.intMode);
  }

  /** A batch inside the transaction (a savepoint: a failure undoes the
   * batch and leaves the transaction open). */
  async batch(statements: readonly BatchStatement[]): Promise<QueryResult[]> {
    const req: Request = { type: "batch", statements: toWireStatements(statements) };
    return manyResults(await this.call(req)).map((r) =>
      toQueryResult(r, this.client.endpoint.intMode),
    );
  }

  /** @internal */
  async call(req: Request): Promise<Response> {
    if (this.finished) {
      throw new DoSqlError("INVALID_REQUEST", "the transaction has already finished");
    }
    const frame = this.conn.encode(req);
    if (exceedsFrameLimit(frame.text)) {
      // HTTP would run it outside the transaction: refuse instead.
      throw new LimitExceededError(
        "LIMIT_EXCEEDED",
        `a request over the ${LIMITS.MAX_WS_FRAME_BYTES} byte WebSocket limit cannot run inside a transaction`,
      );
    }
    return unwrap(await this.conn.sendText(frame, this.client.endpoint.timeoutMs));
  }
}

export async function runTransaction<T>(
  client: Client,
  fn: (tx: Transaction) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  const retries = options.retries ?? client.transactionRetries;
  for (let attempt = 0; ; attempt++) {
    const conn = await client.dedicated();
    const tx = new Transaction(client, conn);
    let error: unknown;
    try {
      await conn.request({ type: "begin", mode: options.mode ?? "deferred" });
      const value = await fn(tx);
      await tx.call({ type: "commit" });
      tx.finished = true;
      client.recycle(conn);
      return value;
    } catch (e) {
      error = e;
    }
    // End whatever is still open; a failed COMMIT has already ended it on
    // the server, so only whether the socket survives matters.
    let usable = !conn.closed;
    if (usable) {
      try {
        await conn.request({ type: "rollback" });
      } catch (e) {
        usable = e instanceof DoSqlError && e.code === "INVALID_REQUEST" && !conn.closed;
      }
    }
    tx.finished = true;
    if (usable) client.recycle(conn);
    else conn.close();
    const retryable = error instanceof DoSqlError && error.retryable;
    if (!retryable || attempt >= retries) throw error;
    await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
  }
}
