/**
 * @dosql/sql-client: the TypeScript SDK of DoSQL, for Workers, Node 20+
 * and browsers. See README.md; the wire protocol is docs/protocol.md and
 * its types are generated from the Rust crate shared-types
 * (protocol.gen.ts).
 */

export { Client, PreparedStatement, createClient } from "./client.js";
export type { BatchStatement, ClientOptions } from "./client.js";
export { Transaction } from "./transaction.js";
export type { TransactionOptions } from "./transaction.js";
export type { ExecuteResult, QueryResult, Row } from "./results.js";
export { Real } from "./values.js";
export type { InParams, InValue, IntMode, Value } from "./values.js";
export type { FetchLike, WebSocketConstructor, WebSocketLike } from "./transport.js";
export {
  AuthError,
  ConflictError,
  ConstraintError,
  DoSqlError,
  InternalError,
  InvalidRequestError,
  LimitExceededError,
  NotFoundError,
  RequestTimeoutError,
  SqlSyntaxError,
  TransactionTimeoutError,
  TransportError,
  TypeMismatchError,
  UnavailableError,
} from "./errors.js";
export type { ClientErrorCode } from "./errors.js";
export { ERROR_CODES, LIMITS, PROTOCOL_VERSION } from "./protocol.gen.js";
export type { ErrorCode, SchemaInfo, TableInfo, ColumnInfo, IndexInfo } from "./protocol.gen.js";
