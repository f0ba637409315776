// The change-stream types of @dosql/lake-client must equal the ones
// generated from the Rust crate shared-types for sql-client. The check is
// made by the type checker (tsc -p tsconfig.test.json fails on a
// mismatch); the runtime test only makes the file a test module of the
// suite, so that it is reported with the others.
import { test } from "node:test";

import type * as Lake from "@dosql/lake-client";
import type * as Gen from "@dosql/sql-client/protocol";

// Exact equality: mutual assignability would accept a field missing on one
// side when it is optional on the other.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const checks: [
  Same<Lake.ChangeTxn, Gen.ChangeTxn>,
  Same<Lake.ChangeBatch, Gen.ChangeBatch>,
  Same<Lake.ChangeEvent, Gen.ChangeEvent>,
  Same<Lake.RowOp, Gen.RowOp>,
  Same<Lake.WireValue, Gen.WireValue>,
  Same<Lake.TableSchema, Gen.TableSchema>,
  Same<Lake.SchemaEvent, Gen.SchemaEvent>,
  Same<Lake.RowEvent, Gen.RowEvent>,
] = [true, true, true, true, true, true, true, true];

test("change-stream types match sql-client's generated protocol types", () => {
  if (!checks.every(Boolean)) throw new Error("unreachable: the check is at type level");
});
