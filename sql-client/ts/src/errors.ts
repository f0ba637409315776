/**
 * Typed errors. Every failure the SDK reports is a {@link DoSqlError}
 * carrying a `code`: the wire code of a server error (docs/protocol.md §8)
 * or one of the client's own codes (`TRANSPORT`, `REQUEST_TIMEOUT`).
 *
 * ```text
 *   DoSqlError ─┬─ SqlSyntaxError (SYNTAX)      ConstraintError (CONSTRAINT)
 *               ├─ ConflictError (CONFLICT)     AuthError (AUTH) ...
 *               ├─ TransportError (TRANSPORT)   the connection failed; the
 *               │                               request may or may not have run
 *               └─ RequestTimeoutError          no answer within timeoutMs
 * ```
 *
 * `retryable` comes from the server (CONFLICT, UNAVAILABLE): sending the
 * same request again may succeed. Transport errors are never retryable,
 * because the SDK cannot know whether the request took effect.
 */

import type { ErrorCode, WireError } from "./protocol.gen.js";

/** Codes of failures detected by the client itself. */
export type ClientErrorCode = "TRANSPORT" | "REQUEST_TIMEOUT";

export class DoSqlError extends Error {
  /** The wire code, or a client code. */
  readonly code: ErrorCode | ClientErrorCode;
  /** True when sending the same request again may succeed. */
  readonly retryable: boolean;
  /** Index of the failing statement within a batch or script. */
  readonly statement: number | undefined;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    retryable = false,
    statement?: number,
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    this.statement = statement;
  }
}

export class InvalidRequestError extends DoSqlError {}
export class SqlSyntaxError extends DoSqlError {}
export class NotFoundError extends DoSqlError {}
export class TypeMismatchError extends DoSqlError {}
export class ConstraintError extends DoSqlError {}
export class ConflictError extends DoSqlError {}
export class LimitExceededError extends DoSqlError {}
export class AuthError extends DoSqlError {}
/** The server rolled back an idle transaction (wire code TIMEOUT). */
export class TransactionTimeoutError extends DoSqlError {}
export class UnavailableError extends DoSqlError {}
export class InternalError extends DoSqlError {}

/** The connection failed before an answer arrived. */
export class TransportError extends DoSqlError {
  /** True when the request was certainly not sent (safe to send again). */
  readonly notSent: boolean;
  constructor(message: string, notSent = false) {
    super("TRANSPORT", message, false);
    this.notSent = notSent;
  }
}

/** No answer arrived within the request timeout. */
export class RequestTimeoutError extends DoSqlError {
  constructor(ms: number) {
    super("REQUEST_TIMEOUT", `no answer within ${ms} ms`, false);
  }
}

type ErrorClass = new (
  code: ErrorCode,
  message: string,
  retryable?: boolean,
  statement?: number,
) => DoSqlError;

const CLASSES: Record<ErrorCode, ErrorClass> = {
  INVALID_REQUEST: InvalidRequestError,
  SYNTAX: SqlSyntaxError,
  NOT_FOUND: NotFoundError,
  TYPE_MISMATCH: TypeMismatchError,
  CONSTRAINT: ConstraintError,
  CONFLICT: ConflictError,
  LIMIT_EXCEEDED: LimitExceededError,
  AUTH: AuthError,
  TIMEOUT: TransactionTimeoutError,
  UNAVAILABLE: UnavailableError,
  INTERNAL: InternalError,
};

/** The typed error of a wire error; unknown codes become INTERNAL. */
export function fromWire(e: WireError): DoSqlError {
  const code: ErrorCode = e.code in CLASSES ? e.code : "INTERNAL";
  const message = code === e.code ? e.message : `${e.code}: ${e.message}`;
  return new CLASSES[code](code, message, e.retryable === true, e.statement ?? undefined);
}
