// The change-stream types of @dosql/lake-client must equal the ones
// generated from the Rust crate shared-types for sql-client: checked at
// type-check time (tsc -p tsconfig.test.json); the runtime test is a stub
// so that the file is a test module.
import { test } from "node:test";

import type * as Lake from "@dosql/lake-client";
import type * as Gen from "@dosql/sql-client/protocol";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checks: [
  Same<Lake.ChangeTxn, Gen.ChangeTxn>,
  Same<Lake.ChangeBatch, Gen.ChangeBatch>,
  Same<Lake.ChangeEvent, Gen.ChangeEvent>,
  Same<Lake.RowOp, Gen.RowOp>,
  Same<Lake.WireValue, Gen.WireValue>,
] = [true, true, true, true, true];

test("change-stream types match sql-client's generated protocol types", () => {
  if (!checks.every(Boolean)) throw new Error("unreachable: the check is at type level");
});
