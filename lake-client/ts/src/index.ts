/**
 * @dosql/lake-client: the TypeScript SDK of DoLake, for Workers, Node 20+
 * and browsers. Browse the Iceberg REST catalog (namespaces, tables,
 * snapshots with per-shard DoSQL LSNs) and follow DoSQL's change stream
 * as an async iterator. See README.md.
 */

export { LakeCatalog, shardLsns } from "./catalog.js";
export type { CatalogOptions, Column, FetchLike, Namespace, SnapshotInfo, Table, TableIdent } from "./catalog.js";
export { afterSnapshot, ChangeSubscription, subscribe } from "./changes.js";
export type {
  ChangeBatch,
  ChangeEvent,
  ChangeTxn,
  ColumnSchema,
  RowEvent,
  RowOp,
  SchemaChange,
  SchemaEvent,
  SubscribeOptions,
  TableSchema,
  WireValue,
} from "./changes.js";
export { LakeError } from "./errors.js";
export type { LakeErrorKind } from "./errors.js";
