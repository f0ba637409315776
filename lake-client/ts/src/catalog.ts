/**
 * Browsing DoLake's Iceberg REST catalog over fetch: namespaces, tables,
 * a table's summary (location, current snapshot, columns with field ids)
 * and its snapshots with the per-shard DoSQL LSNs DoLake records in each
 * summary (`dolake.lsn.<shard>` = decimal LSN: the snapshot includes every
 * change of that shard up to it).
 *
 *   LakeCatalog.connect({url, token})   GET {url}/v1/config   (a wrong token fails here)
 *   namespaces()      GET /v1/namespaces[?parent=a%1Fb]   walked depth-first
 *   tables(ns)        GET /v1/namespaces/{ns}/tables
 *   table(ns, name)   GET /v1/namespaces/{ns}/tables/{name} -> Table
 *
 * The catalog URL is `http://HOST/iceberg` on dosql-server and
 * `https://HOST/lake/{name}/iceberg` under the Worker; storage settings
 * (s3.endpoint, ...) come from the catalog, never from the caller.
 */

import { catalogError, LakeError, transportError } from "./errors.js";

/** A fetch implementation (the global one by default; a service binding's in a Worker). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface CatalogOptions {
  /** The catalog's root URL, e.g. `http://127.0.0.1:7878/iceberg`. */
  url: string;
  token: string;
  fetch?: FetchLike;
  /** Per request, milliseconds (default 30 000). */
  timeoutMs?: number;
}

export type Namespace = string[];

export interface TableIdent {
  namespace: Namespace;
  name: string;
}

export interface Column {
  /** Iceberg field id (stable across renames). */
  id: number;
  name: string;
  required: boolean;
  /** `long`, `string`, ...; nested types as their spec JSON. */
  type: string;
}

/**
 * Snapshot ids are random 63-bit integers, beyond JavaScript's exact
 * range: they are decimal strings here, exact.
 */
export interface SnapshotInfo {
  snapshotId: string;
  parentSnapshotId: string | undefined;
  sequenceNumber: number;
  timestampMs: number;
  operation: string;
  summary: Record<string, string>;
  /** Highest DoSQL LSN included, per shard. */
  shardLsns: Record<string, number>;
  schemaId: number | undefined;
  current: boolean;
}

export interface Table {
  ident: TableIdent;
  metadataLocation: string | undefined;
  location: string;
  uuid: string;
  currentSnapshotId: string | undefined;
  lastUpdatedMs: number;
  schemaId: number;
  columns: Column[];
  properties: Record<string, string>;
  snapshots: SnapshotInfo[];
  /** Storage settings: catalog defaults, overrides, the table's config. */
  storage: Record<string, string>;
  /** The whole metadata.json, for anything not summarised here. */
  metadata: Record<string, unknown>;
}

const LSN_PREFIX = "dolake.lsn.";

/** The shard -> LSN map of a snapshot summary. */
export function shardLsns(summary: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(summary)) {
    if (!k.startsWith(LSN_PREFIX)) continue;
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      throw new LakeError("PROTOCOL", `summary ${k} = ${JSON.stringify(v)} is not an LSN`);
    }
    out[k.slice(LSN_PREFIX.length)] = Number(v);
  }
  return out;
}

/** Quotes snapshot ids before parsing, so that none loses precision. */
function exactIds(json: string): string {
  return json.replace(/"((?:current-|parent-)?snapshot-id)"\s*:\s*(-?\d+)/g, '"$1":"$2"');
}

function checkName(what: string, name: string): void {
  // "." and ".." would be resolved away as dot segments of the URL.
  if (name === "" || name === "." || name === "..") {
    throw new LakeError("INVALID_INPUT", `${what} ${JSON.stringify(name)} is not a name`);
  }
}

function nsSegment(ns: Namespace): string {
  if (ns.length === 0) throw new LakeError("INVALID_INPUT", "a namespace has at least one level");
  ns.forEach((l) => checkName("namespace level", l));
  return encodeURIComponent(ns.join("\u001f"));
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class LakeCatalog {
  private constructor(
    private readonly routes: string,
    private readonly auth: string,
    private readonly fetchFn: FetchLike,
    private readonly timeoutMs: number,
    /** `/v1/config` defaults with overrides applied. */
    readonly storage: Record<string, string>,
  ) {}

  /** Connects and reads the catalog's configuration. */
  static async connect(options: CatalogOptions): Promise<LakeCatalog> {
    let root: URL;
    try {
      root = new URL(options.url);
    } catch {
      throw new LakeError("INVALID_INPUT", `catalog URL ${JSON.stringify(options.url)} does not parse`);
    }
    if (root.protocol !== "http:" && root.protocol !== "https:") {
      throw new LakeError("INVALID_INPUT", `catalog URL ${options.url} is not http(s)`);
    }
    const base = root.href.replace(/\/+$/, "");
    const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    const probe = new LakeCatalog(`${base}/v1`, `Bearer ${options.token}`, fetchFn, options.timeoutMs ?? 30_000, {});
    const config = await probe.get(`${base}/v1/config`);
    const storage = { ...(config.defaults ?? {}), ...(config.overrides ?? {}) } as Record<string, string>;
    const routes = storage.prefix ? `${base}/v1/${encodeURIComponent(storage.prefix)}` : `${base}/v1`;
    return new LakeCatalog(routes, probe.auth, fetchFn, probe.timeoutMs, storage);
  }

  private async get(url: string): Promise<Json> {
    let res: Response;
    let body: string;
    try {
      res = await this.fetchFn(url, {
        headers: { authorization: this.auth },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = await res.text();
    } catch (e) {
      throw transportError(`GET ${url}`, e);
    }
    if (!res.ok) throw catalogError(res.status, body);
    try {
      return JSON.parse(exactIds(body)) as Json;
    } catch {
      throw new LakeError("PROTOCOL", `GET ${url}: the answer is not JSON`, { status: res.status });
    }
  }

  /** Direct children of `parent` (top-level namespaces without one). */
  async childNamespaces(parent?: Namespace): Promise<Namespace[]> {
    const query = parent ? `?parent=${nsSegment(parent)}` : "";
    return ((await this.get(`${this.routes}/namespaces${query}`)).namespaces ?? []) as Namespace[];
  }

  /** Every namespace at every depth, parents before their children. */
  async namespaces(): Promise<Namespace[]> {
    const out: Namespace[] = [];
    const stack = (await this.childNamespaces()).reverse();
    while (stack.length > 0) {
      const ns = stack.pop()!;
      out.push(ns);
      stack.push(...(await this.childNamespaces(ns)).reverse());
    }
    return out;
  }

  async tables(ns: Namespace): Promise<TableIdent[]> {
    const answer = await this.get(`${this.routes}/namespaces/${nsSegment(ns)}/tables`);
    return (answer.identifiers ?? []) as TableIdent[];
  }

  /** A table's summary, snapshots and full metadata. */
  async table(ns: Namespace, name: string): Promise<Table> {
    checkName("table name", name);
    const url = `${this.routes}/namespaces/${nsSegment(ns)}/tables/${encodeURIComponent(name)}`;
    const answer = await this.get(url);
    const md = answer.metadata as Json | undefined;
    if (!md || typeof md.location !== "string" || !Array.isArray(md.schemas)) {
      throw new LakeError("PROTOCOL", `table ${name}: the answer has no table metadata`);
    }
    const current = md["current-snapshot-id"] === "-1" ? undefined : (md["current-snapshot-id"] as string | undefined);
    const schema = (md.schemas as Json[]).find((s) => s["schema-id"] === md["current-schema-id"]);
    if (!schema) throw new LakeError("PROTOCOL", `table ${name}: no current schema`);
    const columns: Column[] = (schema.fields as Json[]).map((f) => ({
      id: f.id,
      name: f.name,
      required: f.required,
      type: typeof f.type === "string" ? f.type : JSON.stringify(f.type),
    }));
    const snapshots: SnapshotInfo[] = ((md.snapshots ?? []) as Json[]).map((s) => {
      const { operation, ...summary } = (s.summary ?? {}) as Record<string, string>;
      return {
        snapshotId: s["snapshot-id"],
        parentSnapshotId: s["parent-snapshot-id"],
        sequenceNumber: s["sequence-number"],
        timestampMs: s["timestamp-ms"],
        operation: operation ?? "",
        summary,
        shardLsns: shardLsns(summary),
        schemaId: s["schema-id"],
        current: s["snapshot-id"] === current,
      };
    });
    return {
      ident: { namespace: [...ns], name },
      metadataLocation: answer["metadata-location"],
      location: md.location,
      uuid: md["table-uuid"],
      currentSnapshotId: current,
      lastUpdatedMs: md["last-updated-ms"],
      schemaId: md["current-schema-id"],
      columns,
      properties: md.properties ?? {},
      snapshots,
      storage: { ...this.storage, ...(answer.config ?? {}) },
      metadata: md,
    };
  }

  /** A table's snapshots, oldest commit first. */
  async snapshots(ns: Namespace, name: string): Promise<SnapshotInfo[]> {
    return (await this.table(ns, name)).snapshots;
  }
}
