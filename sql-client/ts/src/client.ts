/**
 * The client: one shared WebSocket for ordinary calls, HTTP as the fallback
 * and for requests too large for a frame, dedicated sockets for
 * transactions.
 *
 * ```text
 *   Client
 *     shared: WsConnection | undefined   opened by the first call, reopened
 *                                        by the next call after a drop
 *     idle:   WsConnection[]             dedicated sockets, reused by
 *                                        transactions
 *     HTTP    /v1/pipeline  single requests when no WebSocket, or > 1 MiB
 *             /v1/batch     batches when no WebSocket, or > 1 MiB
 * ```
 *
 * Routing rule: a request goes over the shared socket unless (a) no
 * WebSocket can be opened (then over HTTP; the socket is tried again
 * after WS_RETRY_MS), or (b) its frame exceeds 1 MiB. Both are correct
 * because such requests carry no connection state. Requests whose answer
 * was lost to a drop reject with a TransportError and are never re-sent;
 * only a request that was certainly not sent goes once more on a new
 * socket.
 */

import type { BeginMode, Request, Response, SchemaInfo, Statement } from "./protocol.gen.js";
import { DoSqlError, TransportError } from "./errors.js";
import {
  exceedsFrameLimit,
  httpBatch,
  httpPipeline,
  unwrap,
  WsConnection,
  type Endpoint,
  type FetchLike,
  type WebSocketConstructor,
} from "./transport.js";
import {
  manyResults,
  oneResult,
  toExecuteResult,
  toQueryResult,
  unexpected,
  type ExecuteResult,
  type QueryResult,
  type Row,
} from "./results.js";
import { encodeParams, type InParams, type IntMode } from "./values.js";
import { runTransaction, type Transaction, type TransactionOptions } from "./transaction.js";

export interface ClientOptions {
  /** The database URL, `http(s)://host/db/{name}`. */
  url: string;
  /** The server's bearer token. */
  token: string;
  /** Replaces the global fetch (e.g. a Durable Object stub's fetch). */
  fetch?: FetchLike;
  /** Replaces the global WebSocket (e.g. the `ws` package on Node 20).
   * `null` disables WebSockets: every call goes over HTTP. When `fetch` is
   * given and this is not, the client uses HTTP only, since a custom fetch
   * usually means a URL that no WebSocket can reach. */
  WebSocket?: WebSocketConstructor | null;
  /** Milliseconds to wait for each answer (default 30 000; 0: forever). */
  timeoutMs?: number;
  /** How INTEGER values come back (default "mixed"). */
  intMode?: IntMode;
  /** Attempts after the first for a transaction that fails with a
   * retryable error (default 5). */
  transactionRetries?: number;
}

/** A statement of a batch: SQL text, or SQL with parameters. */
export type BatchStatement = string | { sql: string; params?: InParams };

/** How long HTTP stands in after a WebSocket could not be opened. */
const WS_RETRY_MS = 5_000;

/** Creates a client; nothing connects until the first call. */
export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

export class Client {
  /** @internal */ readonly endpoint: Endpoint;
  /** @internal */ readonly transactionRetries: number;
  private readonly Ws: WebSocketConstructor | undefined;
  private shared: Promise<WsConnection> | undefined;
  private wsFailedAt = -Infinity;
  private idle: WsConnection[] = [];
  private closed = false;

  constructor(options: ClientOptions) {
    if (!/^https?:\/\/[^/]+\/db\/[A-Za-z0-9_-]{1,64}\/?$/.test(options.url)) {
      throw new TypeError(`url must look like http(s)://host/db/{name}, not ${options.url}`);
    }
    const fetchFn = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!fetchFn) throw new TypeError("no fetch available: pass options.fetch");
    this.endpoint = {
      url: options.url.replace(/\/$/, ""),
      token: options.token,
      fetch: fetchFn as FetchLike,
      intMode: options.intMode ?? "mixed",
      timeoutMs: options.timeoutMs ?? 30_000,
    };
    const globalWs = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.Ws =
      options.WebSocket === null
        ? undefined
        : (options.WebSocket ?? (options.fetch ? undefined : globalWs));
    this.transactionRetries = options.transactionRetries ?? 5;
  }

  /** Runs one statement and returns its rows. */
  async query<T = Row>(sql: string, params?: InParams): Promise<QueryResult<T>> {
    const r = await this.call({ type: "query", sql, params: encodeParams(params) });
    return toQueryResult<T>(oneResult(r), this.endpoint.intMode);
  }

  /** Runs one statement and returns what it changed. */
  async execute(sql: string, params?: InParams): Promise<ExecuteResult> {
    const r = await this.call({ type: "query", sql, params: encodeParams(params) });
    return toExecuteResult(oneResult(r), this.endpoint.intMode);
  }

  /** Runs statements in order; with `transactional` (the default) all take
   * effect or none does. An error's `statement` names the failing entry. */
  async batch(
    statements: readonly BatchStatement[],
    options: { transactional?: boolean } = {},
  ): Promise<QueryResult[]> {
    const wire = toWireStatements(statements);
    const transactional = options.transactional ?? true;
    const req: Request = { type: "batch", statements: wire, transactional };
    const conn = await this.sharedOrNone();
    let results;
    if (conn) {
      results = manyResults(await this.viaSocket(conn, req));
    } else {
      results = (await httpBatch(this.endpoint, wire, transactional)).results;
    }
    return results.map((r) => toQueryResult(r, this.endpoint.intMode));
  }

  /** A statement prepared once per connection and run many times. */
  prepare(sql: string): PreparedStatement {
    return new PreparedStatement(this, sql);
  }

  /** Runs `fn` inside BEGIN .. COMMIT on a dedicated connection, running it
   * again (after a jittered backoff) when it fails with a retryable error
   * such as CONFLICT. `fn` must therefore be safe to re-run. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return runTransaction(this, fn, options);
  }

  /** Tables, views, columns and indexes of the committed schema. */
  async schema(): Promise<SchemaInfo> {
    const r = await this.call({ type: "schema" });
    if (r.type !== "schema") throw unexpected(r, "schema");
    return { tables: r.tables };
  }

  /** Round-trip time of a ping in milliseconds. */
  async ping(): Promise<number> {
    const start = Date.now();
    const r = await this.call({ type: "ping" });
    if (r.type !== "pong") throw unexpected(r, "pong");
    return Date.now() - start;
  }

  /** Closes every socket; pending requests reject with TransportError. */
  close(): void {
    this.closed = true;
    const shared = this.shared;
    this.shared = undefined;
    shared?.then((c) => c.close(), () => undefined);
    for (const c of this.idle.splice(0)) c.close();
  }

  /** True when calls currently go over a WebSocket. */
  async usesWebSocket(): Promise<boolean> {
    return (await this.sharedOrNone()) !== undefined;
  }

  /** @internal Sends one request on the shared socket, or over HTTP. */
  async call(req: Request): Promise<Response> {
    // A socket found dead before anything was written on it: the request
    // goes once more, on a new socket.
    for (let attempt = 0; ; attempt++) {
      const conn = await this.sharedOrNone();
      if (!conn) return unwrap((await httpPipeline(this.endpoint, [req]))[0]!);
      try {
        return await this.viaSocket(conn, req);
      } catch (e) {
        if (!(e instanceof TransportError && e.notSent) || attempt > 0) throw e;
      }
    }
  }

  private async viaSocket(conn: WsConnection, req: Request): Promise<Response> {
    const frame = conn.encode(req);
    if (exceedsFrameLimit(frame.text)) {
      // HTTP runs it on a session of its own, which is right for requests
      // that need no connection state (query, batch).
      if (req.type === "batch") {
        const r = await httpBatch(this.endpoint, req.statements, req.transactional ?? true);
        return { type: "results", results: r.results };
      }
      return unwrap((await httpPipeline(this.endpoint, [req]))[0]!);
    }
    return unwrap(await conn.sendText(frame, this.endpoint.timeoutMs));
  }

  /** @internal The shared socket (reopened after a drop), or undefined
   * when calls must go over HTTP. */
  async sharedOrNone(): Promise<WsConnection | undefined> {
    if (this.closed) throw new TransportError("the client is closed", true);
    if (!this.Ws || Date.now() - this.wsFailedAt < WS_RETRY_MS) return undefined;
    if (this.shared) {
      const conn = await this.shared.catch(() => undefined);
      if (conn && !conn.closed) return conn;
    }
    const opening = WsConnection.open(this.endpoint, this.Ws);
    this.shared = opening;
    try {
      return await opening;
    } catch (e) {
      if (this.shared === opening) this.shared = undefined;
      if (e instanceof TransportError) {
        this.wsFailedAt = Date.now();
        return undefined;
      }
      throw e;
    }
  }

  /** @internal A socket of its own, for a transaction. */
  async dedicated(): Promise<WsConnection> {
    if (this.closed) throw new TransportError("the client is closed", true);
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (!c.closed) return c;
    }
    if (!this.Ws) {
      throw new TransportError(
        "interactive transactions need a WebSocket (use batch({ transactional: true }) over HTTP)",
        true,
      );
    }
    return WsConnection.open(this.endpoint, this.Ws);
  }

  /** @internal Returns a dedicated socket whose transaction has ended. */
  recycle(conn: WsConnection): void {
    if (this.closed || conn.closed || this.idle.length >= 4) conn.close();
    else this.idle.push(conn);
  }
}

export function toWireStatements(statements: readonly BatchStatement[]): Statement[] {
  return statements.map((s) => {
    if (typeof s === "string") return { sql: s };
    const params = encodeParams(s.params);
    return params === undefined ? { sql: s.sql } : { sql: s.sql, params };
  });
}

/**
 * A prepared statement. It is prepared lazily on the connection that runs
 * it and again on a new connection after a reconnect (handles are valid
 * on one connection only); over HTTP it runs as a plain query.
 */
export class PreparedStatement {
  private handle: { conn: WsConnection; stmt: number } | undefined;
  private closed = false;

  constructor(
    private readonly client: Client,
    readonly sql: string,
  ) {}

  async query<T = Row>(params?: InParams): Promise<QueryResult<T>> {
    return toQueryResult<T>(await this.run(params), this.client.endpoint.intMode);
  }

  async execute(params?: InParams): Promise<ExecuteResult> {
    return toExecuteResult(await this.run(params), this.client.endpoint.intMode);
  }

  /** Forgets the statement on the server. */
  async close(): Promise<void> {
    this.closed = true;
    const h = this.handle;
    this.handle = undefined;
    if (h && !h.conn.closed) await h.conn.request({ type: "close", stmt: h.stmt });
  }

  private async run(params?: InParams) {
    if (this.closed) throw new DoSqlError("INVALID_REQUEST", "the prepared statement is closed");
    const wire = encodeParams(params);
    const conn = await this.client.sharedOrNone();
    if (!conn) {
      const r = await this.client.call({ type: "query", sql: this.sql, params: wire });
      return oneResult(r);
    }
    if (!this.handle || this.handle.conn !== conn) {
      const p = await conn.request({ type: "prepare", sql: this.sql });
      if (p.type !== "prepared") throw unexpected(p, "prepared");
      this.handle = { conn, stmt: p.stmt };
    }
    return oneResult(await conn.request({ type: "execute", stmt: this.handle.stmt, params: wire }));
  }
}

export type { BeginMode };
