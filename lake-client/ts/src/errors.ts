/**
 * The errors of @dosql/lake-client: one class, with a `kind` to dispatch
 * on. The catalog's REST ErrorModel (`{"error": {message, type, code}}`)
 * and DoSQL's wire errors (`{code, message, retryable}`) map onto kinds by
 * status and type; the original type or code stays in `type`.
 */

export type LakeErrorKind =
  /** Refused before sending, or the server answered 400/422/INVALID_REQUEST. */
  | "INVALID_INPUT"
  /** No such namespace, table, snapshot or slot. */
  | "NOT_FOUND"
  /** The token was refused (401/403/AUTH). */
  | "UNAUTHORIZED"
  /** The server failed or refused in another way (`status`, `type`). */
  | "SERVER"
  /** No connection, or no answer in time. */
  | "TRANSPORT"
  /** An answer the protocol does not allow. */
  | "PROTOCOL";

export class LakeError extends Error {
  readonly kind: LakeErrorKind;
  /** HTTP status, when there was an answer. */
  readonly status: number | undefined;
  /** The catalog's exception type or DoSQL's error code, when given. */
  readonly type: string | undefined;
  /** Whether the same call may succeed if made again. */
  readonly retryable: boolean;

  constructor(kind: LakeErrorKind, message: string, opts: { status?: number; type?: string; retryable?: boolean } = {}) {
    super(message);
    this.name = "LakeError";
    this.kind = kind;
    this.status = opts.status;
    this.type = opts.type;
    this.retryable = opts.retryable ?? kind === "TRANSPORT";
  }
}

/** The error for a failed catalog answer. */
export function catalogError(status: number, body: string): LakeError {
  let type = "";
  let message = body.slice(0, 200);
  try {
    const model = JSON.parse(body) as { error?: { type?: string; message?: string } };
    type = model.error?.type ?? "";
    message = model.error?.message ?? message;
  } catch {
    // not an ErrorModel: keep the raw start of the body
  }
  const text = type ? `${type}: ${message}` : `HTTP ${status}: ${message}`;
  const opts = { status, type };
  if (status === 401 || status === 403) return new LakeError("UNAUTHORIZED", text, opts);
  if (status === 404 && (type === "" || /^NoSuch(Namespace|Table|View)Exception$/.test(type))) {
    return new LakeError("NOT_FOUND", text, opts);
  }
  if (status === 400 || status === 422) return new LakeError("INVALID_INPUT", text, opts);
  const retryable = status >= 500 || status === 409 || status === 429;
  return new LakeError("SERVER", text, { ...opts, retryable });
}

/** The error for a DoSQL wire error (`{"type": "error", code, message}`). */
export function wireError(code: string, message: string, retryable: boolean, status?: number): LakeError {
  const kind: LakeErrorKind =
    code === "AUTH" ? "UNAUTHORIZED" : code === "NOT_FOUND" ? "NOT_FOUND" : code === "INVALID_REQUEST" ? "INVALID_INPUT" : "SERVER";
  return new LakeError(kind, `${code}: ${message}`, { type: code, retryable, ...(status === undefined ? {} : { status }) });
}

/** The error for a failed fetch (no answer at all). */
export function transportError(what: string, e: unknown): LakeError {
  const timeout = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
  const why = e instanceof Error ? e.message : String(e);
  return new LakeError("TRANSPORT", `${what}: ${timeout ? "no answer in time" : why}`);
}
