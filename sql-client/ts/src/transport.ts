/**
 * The two transports: one WebSocket with pipelined requests matched by id,
 * and HTTP (`/v1/pipeline`, `/v1/batch`).
 *
 * ```text
 *   WsConnection
 *     send(req) ── id=n ──> {"id":n,...req}  ──────────> server
 *       pending[n] = {resolve, reject, timer}             answers in order
 *     onmessage  <── {"id":n,"type":...} ── resolve pending[n]
 *                <── {"id":null,...}     ── the oldest pending request
 *     onclose    ── reject every pending request with TransportError
 * ```
 *
 * A request whose answer never came is never sent again by the SDK: after
 * a drop it may or may not have run. A request that times out is
 * forgotten; its late answer, if any, is ignored (ids are never reused).
 */

import type {
  BatchResult,
  HttpError,
  PipelineResponse,
  Request,
  Response,
  Statement,
} from "./protocol.gen.js";
import { LIMITS } from "./protocol.gen.js";
import { DoSqlError, fromWire, RequestTimeoutError, TransportError } from "./errors.js";
import { parseJson, type IntMode } from "./values.js";

/** The constructor of a standard WebSocket (global in Workers, browsers and
 * Node 22; the `ws` package's works in Node 20). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The subset of the WebSocket interface the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<globalThis.Response>;

/** Everything a transport needs to reach one database. */
export interface Endpoint {
  /** `http(s)://host/db/name`, without a trailing slash. */
  url: string;
  token: string;
  fetch: FetchLike;
  intMode: IntMode;
  timeoutMs: number;
}

const OPEN = 1;

interface Pending {
  resolve(r: Response): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The size in bytes of a string as UTF-8, without encoding it when the
 * answer is clear from its length. */
export function exceedsFrameLimit(text: string): boolean {
  const limit = LIMITS.MAX_WS_FRAME_BYTES;
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).length > limit;
}

/** Rejects the promise with a RequestTimeoutError after `ms` (0: never). */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
  if (!(ms > 0)) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new RequestTimeoutError(ms));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

export class WsConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWhy: string | undefined;

  private constructor(
    private readonly socket: WebSocketLike,
    private readonly endpoint: Endpoint,
  ) {
    socket.addEventListener("message", (ev: { data: unknown }) => this.onMessage(ev.data));
    socket.addEventListener("close", (ev: { code?: number; reason?: string }) =>
      this.fail(`WebSocket closed (${ev.code ?? "no code"}${ev.reason ? `: ${ev.reason}` : ""})`),
    );
    socket.addEventListener("error", () => this.fail("WebSocket error"));
  }

  /** Opens a socket to `{url}/v1/ws`; the token goes in the query string
   * because browsers cannot set headers on a WebSocket. */
  static open(endpoint: Endpoint, Ctor: WebSocketConstructor): Promise<WsConnection> {
    const url = new URL(`${endpoint.url}/v1/ws`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", endpoint.token);
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url.toString());
    } catch (e) {
      return Promise.reject(new TransportError(`cannot open a WebSocket: ${String(e)}`, true));
    }
    const opened = new Promise<WsConnection>((resolve, reject) => {
      let settled = false;
      const failed = (why: string) => {
        if (!settled) {
          settled = true;
          reject(new TransportError(`cannot open a WebSocket to ${endpoint.url}: ${why}`, true));
        }
      };
      socket.addEventListener("open", () => {
        if (!settled) {
          settled = true;
          resolve(new WsConnection(socket, endpoint));
        }
      });
      socket.addEventListener("error", () => failed("connection refused or upgrade rejected"));
      socket.addEventListener("close", (ev: { code?: number }) => failed(`closed (${ev.code})`));
    });
    return withTimeout(opened, endpoint.timeoutMs, () => {
      try {
        socket.close();
      } catch {
        // Already closing: nothing to release.
      }
    }).catch((e: unknown) => {
      throw e instanceof RequestTimeoutError
        ? new TransportError(`cannot open a WebSocket: ${e.message}`, true)
        : e;
    });
  }

  get closed(): boolean {
    return this.closedWhy !== undefined || this.socket.readyState !== OPEN;
  }

  /** Sends one request and resolves with its response (an error response
   * rejects with the typed error). */
  request(req: Request, timeoutMs = this.endpoint.timeoutMs): Promise<Response> {
    return this.sendText(this.encode(req), timeoutMs).then(unwrap);
  }

  /** The frame of a request with a fresh id, for size checks before sending. */
  encode(req: Request): { id: number; text: string } {
    const id = this.nextId++;
    return { id, text: JSON.stringify({ id, ...req }) };
  }

  sendText(frame: { id: number; text: string }, timeoutMs: number): Promise<Response> {
    if (this.closed) {
      return Promise.reject(new TransportError(this.closedWhy ?? "WebSocket is closed", true));
    }
    return new Promise<Response>((resolve, reject) => {
      const entry: Pending = { resolve, reject, timer: undefined };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(frame.id);
          reject(new RequestTimeoutError(timeoutMs));
        }, timeoutMs);
      }
      this.pending.set(frame.id, entry);
      try {
        this.socket.send(frame.text);
      } catch (e) {
        this.settle(frame.id, undefined, new TransportError(`send failed: ${String(e)}`, true));
      }
    });
  }

  close(): void {
    this.fail("closed by the client");
    try {
      this.socket.close(1000, "client closed");
    } catch {
      // Closing a socket that is already closing is harmless.
    }
  }

  private settle(id: number, response: Response | undefined, error?: Error): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(response!);
  }

  private onMessage(data: unknown): void {
    const text = typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer);
    let frame: Response & { id: number | null };
    try {
      frame = parseJson(text, this.endpoint.intMode) as Response & { id: number | null };
    } catch {
      this.fail("the server sent a frame that is not JSON");
      return;
    }
    // An id of null answers a frame the server could not read; answers
    // come in order, so it belongs to the oldest pending request.
    const id = frame.id ?? this.pending.keys().next().value;
    if (id !== undefined) this.settle(id, frame);
  }

  private fail(why: string): void {
    if (this.closedWhy === undefined) this.closedWhy = why;
    for (const id of [...this.pending.keys()]) {
      this.settle(id, undefined, new TransportError(`${why}; the request may or may not have run`));
    }
  }
}

/** The response, or its error thrown as a typed DoSqlError. */
export function unwrap(r: Response): Response {
  if (r.type === "error") throw fromWire(r);
  return r;
}

async function post(endpoint: Endpoint, path: string, body: string): Promise<unknown> {
  const call = (async () => {
    let res: globalThis.Response;
    try {
      res = await endpoint.fetch(`${endpoint.url}${path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${endpoint.token}`,
          "content-type": "application/json",
        },
        body,
      });
    } catch (e) {
      throw new TransportError(`HTTP request to ${endpoint.url}${path} failed: ${String(e)}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = parseJson(text, endpoint.intMode);
    } catch {
      throw new TransportError(`HTTP ${res.status} from ${path} is not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const err = (json as HttpError | undefined)?.error;
      if (err && typeof err.code === "string") throw fromWire(err);
      throw new DoSqlError("INTERNAL", `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    return json;
  })();
  return withTimeout(call, endpoint.timeoutMs);
}

/** Runs requests in order on a session of their own (`/v1/pipeline`). */
export async function httpPipeline(endpoint: Endpoint, requests: Request[]): Promise<Response[]> {
  const body = (await post(endpoint, "/v1/pipeline", JSON.stringify({ requests }))) as PipelineResponse;
  return body.responses;
}

/** Runs one batch (`/v1/batch`); the HTTP status carries the outcome. */
export async function httpBatch(
  endpoint: Endpoint,
  statements: Statement[],
  transactional: boolean,
): Promise<BatchResult> {
  const body = JSON.stringify({ statements, transactional });
  return (await post(endpoint, "/v1/batch", body)) as BatchResult;
}
