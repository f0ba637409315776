// Generated from the Rust crate shared-types by shared-types/tests/typescript.rs.
// Do not edit: run `UPDATE_TS=1 cargo test -p shared-types --test typescript`.
// The wire protocol is described in docs/protocol.md.

export const PROTOCOL_VERSION = 1;

/** The kind of a failed request (unknown codes mean INTERNAL). */
export type ErrorCode =
  | "INVALID_REQUEST"
  | "SYNTAX"
  | "NOT_FOUND"
  | "TYPE_MISMATCH"
  | "CONSTRAINT"
  | "CONFLICT"
  | "LIMIT_EXCEEDED"
  | "AUTH"
  | "TIMEOUT"
  | "UNAVAILABLE"
  | "INTERNAL";

export const ERROR_CODES: readonly ErrorCode[] = ["INVALID_REQUEST", "SYNTAX", "NOT_FOUND", "TYPE_MISMATCH", "CONSTRAINT", "CONFLICT", "LIMIT_EXCEEDED", "AUTH", "TIMEOUT", "UNAVAILABLE", "INTERNAL"];

/** Codes for which sending the same request again may succeed. */
export const RETRYABLE_CODES: readonly ErrorCode[] = ["CONFLICT", "UNAVAILABLE"];

/** The HTTP status of a response that failed with each code. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_REQUEST: 400,
  SYNTAX: 400,
  NOT_FOUND: 404,
  TYPE_MISMATCH: 400,
  CONSTRAINT: 409,
  CONFLICT: 409,
  LIMIT_EXCEEDED: 413,
  AUTH: 401,
  TIMEOUT: 408,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** Limits every server enforces (shared-types/src/limits.rs). */
export const LIMITS = {
  MAX_SQL_BYTES: 100000,
  MAX_PARAMS: 100,
  MAX_VALUE_BYTES: 2097152,
  MAX_WS_FRAME_BYTES: 1048576,
  MAX_HTTP_BODY_BYTES: 16777216,
  MAX_RESULT_BYTES: 16777216,
  MAX_BATCH_STATEMENTS: 1000,
  MAX_PREPARED_PER_CONNECTION: 256,
  TRANSACTION_IDLE_TIMEOUT_MS: 30000,
  MAX_DATABASE_NAME_LEN: 64,
} as const;

/** Largest magnitude of an integer sent as a plain JSON number. */
export const MAX_SAFE_INTEGER = 9007199254740991;

/**
 * A SQL value on the wire: NULL, INTEGER (a number, or {int} beyond 2^53-1),
 * REAL (a number with '.', or {real} when integral or infinite), TEXT, BLOB (base64).
 */
export type WireValue =
  | null
  | number
  | string
  | { int: string | number }
  | { real: number | "Infinity" | "-Infinity" }
  | { blob: string };

/** Positional (`?`, `?NNN`) or named (`:a`, `@a`, `$a`) parameters. */
export type Params = WireValue[] | { [name: string]: WireValue };

export type BeginMode = "deferred" | "immediate";

/** Change stream format version (docs/cdc.md). */
export const CDC_FORMAT_VERSION = 1;

export type RowOp = "insert" | "update" | "delete";

export type SchemaChange = "create" | "add_column" | "rename_column" | "drop_column" | "rename_table" | "alter" | "drop";

/** One SQL statement (or script) with its parameters. */
export interface Statement {
  sql: string;
  params?: Params;
}

/** What a client asks (a WebSocket frame adds `id`). */
export type Request =
  | { type: "hello"; version: number }
  | { type: "ping" }
  | { type: "exec"; sql: string; params?: Params }
  | { type: "query"; sql: string; params?: Params }
  | { type: "prepare"; sql: string }
  | { type: "execute"; stmt: number; params?: Params }
  | { type: "close"; stmt: number }
  | { type: "batch"; statements: Statement[]; transactional?: boolean }
  | { type: "begin"; mode?: BeginMode }
  | { type: "commit" }
  | { type: "rollback" }
  | { type: "schema" }
  | { type: "create_slot"; slot: string }
  | { type: "drop_slot"; slot: string }
  | { type: "list_slots" }
  | { type: "read_changes"; slot?: string; from_lsn?: number; filter?: ChangeFilter; max_txns?: number; max_bytes?: number }
  | { type: "ack_slot"; slot: string; lsn: number };

/** Which change events a read returns; empty or absent lists mean all (docs/cdc.md). */
export interface ChangeFilter {
  tables?: string[];
  ops?: RowOp[];
}

/** A replication slot. */
export interface SlotInfo {
  name: string;
  acked_lsn: number;
  lagging: boolean;
  retained_records: number;
}

/** One column of a table in the change stream. */
export interface ColumnSchema {
  name: string;
  decl_type: string;
  not_null: boolean;
  pk?: number;
  default?: WireValue;
}

/** A table's definition in the change stream. */
export interface TableSchema {
  name: string;
  columns: ColumnSchema[];
  without_rowid: boolean;
  rowid_alias?: number;
  sql: string;
}

/** A table created, altered or dropped. */
export interface SchemaEvent {
  table: string;
  change: SchemaChange;
  column?: string;
  previous?: string;
  schema: TableSchema;
}

/** A row inserted, updated or deleted. */
export interface RowEvent {
  table: string;
  op: RowOp;
  key: WireValue[];
  before?: WireValue[];
  after?: WireValue[];
}

/** One event of a change transaction. */
export type ChangeEvent =
  | (SchemaEvent & { type: "schema" })
  | (RowEvent & { type: "row" });

/** Every change of one committed transaction; `(shard, lsn)` identifies it. */
export interface ChangeTxn {
  shard: string;
  lsn: number;
  txn: number;
  commit_ts: number;
  commit_time_ms: number;
  events: ChangeEvent[];
}

/** The answer to `read_changes`. */
export interface ChangeBatch {
  version: number;
  txns: ChangeTxn[];
  schemas?: TableSchema[];
  next_lsn: number;
  last_lsn: number;
}

/** The result of one statement. `last_insert_rowid` is a decimal string beyond 2^53-1. */
export interface StatementResult {
  columns: string[];
  rows: WireValue[][];
  rows_affected: number;
  last_insert_rowid: number | string;
}

/** A statement prepared on a connection. */
export interface Prepared {
  stmt: number;
  params: number;
  param_names: (string | null)[];
  columns: string[];
}

/** One column of a table. */
export interface ColumnInfo {
  name: string;
  decl_type: string;
  not_null: boolean;
  primary_key: number;
  default?: string;
}

/** One index of a table. */
export interface IndexInfo {
  name: string;
  unique: boolean;
  columns: string[];
  sql?: string;
}

/** A table or view. */
export interface TableInfo {
  name: string;
  kind: "table" | "view";
  sql: string;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
}

/** The answer to `schema`. */
export interface SchemaInfo {
  tables: TableInfo[];
}

/** A failed request; `statement` indexes the failing entry of a batch or script. */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  statement?: number;
}

/** What a server answers (a WebSocket frame adds `id`). */
export type Response =
  | { type: "hello"; version: number; server: string }
  | { type: "pong" }
  | (StatementResult & { type: "result" })
  | { type: "results"; results: StatementResult[] }
  | (Prepared & { type: "prepared" })
  | { type: "ok"; in_transaction: boolean }
  | (SchemaInfo & { type: "schema" })
  | (SlotInfo & { type: "slot" })
  | { type: "slots"; slots: SlotInfo[] }
  | (ChangeBatch & { type: "changes" })
  | (WireError & { type: "error" });

/** Body of `POST /db/{name}/v1/pipeline`. */
export interface PipelineRequest {
  requests: Request[];
}

/** Answer to a pipeline: one response per request, in order. */
export interface PipelineResponse {
  responses: Response[];
}

/** Body of `POST /db/{name}/v1/batch`. */
export interface BatchRequest {
  statements: Statement[];
  transactional?: boolean;
}

/** Successful answer to a batch. */
export interface BatchResult {
  results: StatementResult[];
}

/** The body of every failed HTTP response. */
export interface HttpError {
  error: WireError;
}

/** A request with its id, as sent over a WebSocket. */
export type ClientFrame = Request & { id: number };

/** A response with its request's id (null when the frame had none). */
export type ServerFrame = Response & { id: number | null };
