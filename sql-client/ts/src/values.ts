/**
 * SQL values between JavaScript and the wire (docs/protocol.md §3).
 *
 * ```text
 *   JavaScript                     wire                      JavaScript back
 *   null, undefined                null                      null
 *   number, integral, |n|<=2^53-1  12                        number (bigint in "bigint" mode)
 *   bigint                         12 or {"int":"..."}       number/bigint by intMode
 *   number, fractional             1.5                       number
 *   new Real(2)                    {"real":2}                number
 *   ±Infinity                      {"real":"Infinity"}       ±Infinity
 *   string                         "text"                    string
 *   Uint8Array, ArrayBuffer        {"blob":"base64"}         Uint8Array
 *   boolean                        1 / 0                     number
 * ```
 *
 * JSON.parse cannot tell INTEGER `1` from REAL `1.0`, so a plain JS number
 * that is integral always binds as INTEGER; wrap it in {@link Real} to
 * bind a REAL. In "bigint" mode the decoder reads number source text
 * (where the runtime offers it) to keep REAL 1.0 a number.
 */

import type { Params, WireValue } from "./protocol.gen.js";
import { MAX_SAFE_INTEGER } from "./protocol.gen.js";

/** How INTEGER values come back: always number (lossy beyond 2^53-1),
 * always bigint, or bigint only when a number would lose precision. */
export type IntMode = "number" | "bigint" | "mixed";

/** A value as the SDK returns it. */
export type Value = null | number | bigint | string | Uint8Array;

/** A value the SDK accepts as a parameter. */
export type InValue =
  | Value
  | undefined
  | boolean
  | Real
  | ArrayBuffer
  | ArrayBufferView;

/** Positional or named parameters. */
export type InParams = readonly InValue[] | { readonly [name: string]: InValue };

/** A number to bind as REAL even when it is integral (`new Real(2)`). */
export class Real {
  constructor(readonly value: number) {}
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function intToWire(i: bigint): WireValue {
  if (i < I64_MIN || i > I64_MAX) {
    throw new RangeError(`integer ${i} is outside the 64-bit signed range`);
  }
  const safe = BigInt(MAX_SAFE_INTEGER);
  return i >= -safe && i <= safe ? Number(i) : { int: i.toString() };
}

function realToWire(r: number): WireValue {
  if (Number.isNaN(r)) return null;
  if (!Number.isFinite(r)) return { real: r > 0 ? "Infinity" : "-Infinity" };
  return Number.isInteger(r) ? { real: r } : r;
}

/** The wire form of one parameter. */
export function encodeValue(v: InValue): WireValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "string":
      return v;
    case "boolean":
      return v ? 1 : 0;
    case "bigint":
      return intToWire(v);
    case "number":
      if (Number.isInteger(v)) {
        if (Math.abs(v) <= MAX_SAFE_INTEGER) return v;
        // Integral but beyond 2^53: exact as an i64 when in range.
        if (v >= -(2 ** 63) && v < 2 ** 63) return intToWire(BigInt(v));
      }
      return realToWire(v);
  }
  if (v instanceof Real) return realToWire(v.value);
  if (v instanceof Uint8Array) return { blob: toBase64(v) };
  if (v instanceof ArrayBuffer) return { blob: toBase64(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v)) {
    return { blob: toBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  }
  throw new TypeError(`cannot bind a value of type ${describe(v)} as a SQL parameter`);
}

function describe(v: unknown): string {
  return typeof v === "object" ? (v?.constructor?.name ?? "object") : typeof v;
}

/** The wire form of a parameter list (absent when empty). */
export function encodeParams(params: InParams | undefined): Params | undefined {
  if (params === undefined) return undefined;
  if (Array.isArray(params)) {
    return params.length === 0 ? undefined : params.map(encodeValue);
  }
  if (typeof params !== "object" || params === null) {
    throw new TypeError("params must be an array or an object of named values");
  }
  const out: { [name: string]: WireValue } = {};
  for (const [k, v] of Object.entries(params)) out[k] = encodeValue(v as InValue);
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A REAL whose JSON text was integral ("1.0"), kept apart in "bigint"
 * mode so that it does not turn into a bigint. */
class RealNumber {
  constructor(readonly value: number) {}
}

/** Decodes one wire value. */
export function decodeValue(w: unknown, mode: IntMode): Value {
  if (w === null || typeof w === "string") return w;
  if (typeof w === "number") {
    return mode === "bigint" && Number.isInteger(w) ? BigInt(w) : w;
  }
  if (typeof w === "boolean") return w ? 1 : 0;
  if (w instanceof RealNumber) return w.value;
  if (typeof w === "object") {
    const o = w as Record<string, unknown>;
    if ("int" in o) return decodeInt(o.int as string | number, mode);
    if ("blob" in o) return fromBase64(o.blob as string);
    if ("real" in o) {
      const r = o.real;
      if (r instanceof RealNumber) return r.value;
      if (r === "Infinity") return Infinity;
      if (r === "-Infinity") return -Infinity;
      return Number(r);
    }
  }
  throw new TypeError(`the server sent an unknown value: ${JSON.stringify(w)}`);
}

/** Decodes a 64-bit integer sent as a number or a decimal string. */
export function decodeInt(w: string | number, mode: IntMode): number | bigint {
  if (mode === "number") return Number(w);
  const big = BigInt(w);
  if (mode === "bigint") return big;
  const safe = BigInt(MAX_SAFE_INTEGER);
  return big >= -safe && big <= safe ? Number(big) : big;
}

// JSON.parse passes the source text to revivers on recent runtimes
// (Node 21+, Chrome 114+): detect it once.
type Reviver = (this: unknown, key: string, value: unknown, ctx?: { source?: string }) => unknown;
const hasSource = (() => {
  let seen = false;
  JSON.parse("1", ((_k: string, v: unknown, ctx?: { source?: string }) => {
    seen = ctx?.source === "1";
    return v;
  }) as Reviver as (k: string, v: unknown) => unknown);
  return seen;
})();

const keepReals: Reviver = (_k, v, ctx) =>
  typeof v === "number" && Number.isInteger(v) && ctx?.source !== undefined && /[.eE]/.test(ctx.source)
    ? new RealNumber(v)
    : v;

/** Parses a server message. In "bigint" mode integral REALs ("1.0") are
 * marked so that {@link decodeValue} keeps them numbers; only row values
 * can be written that way by the server. */
export function parseJson(text: string, mode: IntMode): unknown {
  return mode === "bigint" && hasSource
    ? JSON.parse(text, keepReals as (k: string, v: unknown) => unknown)
    : JSON.parse(text);
}

const CHUNK = 0x8000;

/** Standard padded base64 (btoa exists in Workers, browsers and Node). */
export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    bin += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + CHUNK)));
  }
  return btoa(bin);
}

export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
