/**
 * Statement results as the SDK returns them: rows as objects keyed by
 * column name (`rows`) and as arrays in column order (`rowsRaw`), counts
 * and the last inserted rowid with integers decoded by the client's
 * intMode.
 */

import type { Response, StatementResult } from "./protocol.gen.js";
import { DoSqlError } from "./errors.js";
import { decodeInt, decodeValue, type IntMode, type Value } from "./values.js";

/** One row keyed by column name (a later duplicate name wins). */
export type Row = Record<string, Value>;

export interface QueryResult<T = Row> {
  columns: string[];
  rows: T[];
  rowsRaw: Value[][];
  rowsAffected: number;
  lastInsertRowid: number | bigint;
}

export interface ExecuteResult {
  rowsAffected: number;
  lastInsertRowid: number | bigint;
}

export function toQueryResult<T>(r: StatementResult, mode: IntMode): QueryResult<T> {
  const columns = r.columns ?? [];
  const rowsRaw = (r.rows ?? []).map((row) => row.map((v) => decodeValue(v, mode)));
  const rows = rowsRaw.map((raw) => {
    const o: Row = {};
    columns.forEach((c, i) => {
      o[c] = raw[i] ?? null;
    });
    return o as T;
  });
  return {
    columns,
    rows,
    rowsRaw,
    rowsAffected: r.rows_affected ?? 0,
    lastInsertRowid: decodeInt(r.last_insert_rowid ?? 0, mode),
  };
}

export function toExecuteResult(r: StatementResult, mode: IntMode): ExecuteResult {
  return {
    rowsAffected: r.rows_affected ?? 0,
    lastInsertRowid: decodeInt(r.last_insert_rowid ?? 0, mode),
  };
}

/** The single statement result of a `result` response. */
export function oneResult(r: Response): StatementResult {
  if (r.type === "result") return r;
  throw unexpected(r, "result");
}

/** The statement results of a `results` response. */
export function manyResults(r: Response): StatementResult[] {
  if (r.type === "results") return r.results;
  throw unexpected(r, "results");
}

export function unexpected(r: Response, want: string): DoSqlError {
  return new DoSqlError("INTERNAL", `expected a "${want}" response, got "${r.type}"`);
}
