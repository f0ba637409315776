/**
 * Starts a real dosql-server for the tests (DOSQL_SERVER names the binary):
 * a fresh data directory (its lake at DATA/.lake), a known token, the port
 * the system picks (read from its `listening on http://ADDR` line).
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TOKEN = "test-token-lake";

export interface Server {
  base: string;
  stop(): Promise<void>;
}

export function startServer(): Promise<Server> {
  const bin = process.env.DOSQL_SERVER;
  if (!bin) throw new Error("DOSQL_SERVER must name the dosql-server binary (see test.sh)");
  const dir = mkdtempSync(join(tmpdir(), "lake-ts-"));
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--data", dir, "--token", TOKEN], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`dosql-server did not start: ${out}`)), 30_000);
    child.on("exit", (code) => reject(new Error(`dosql-server exited with ${code}: ${out}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        base: m[1]!.replace(/\/$/, ""),
        stop: () =>
          new Promise<void>((done) => {
            const finish = () => {
              rmSync(dir, { recursive: true, force: true });
              done();
            };
            if (child.exitCode !== null) return finish();
            child.once("exit", finish);
            child.kill("SIGKILL");
          }),
      });
    });
  });
}

/** One catalog request with the token; the parsed answer (or throws). */
export async function catalogCall(base: string, method: string, path: string, body?: string): Promise<unknown> {
  const res = await fetch(`${base}/iceberg/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs SQL statements on database `db`, in order, over the HTTP pipeline. */
export async function sql(base: string, db: string, ...statements: string[]): Promise<void> {
  const res = await fetch(`${base}/db/${db}/v1/pipeline`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ requests: statements.map((s) => ({ type: "query", sql: s })) }),
  });
  const answer = (await res.json()) as { responses: { type: string; message?: string }[] };
  for (const r of answer.responses) {
    if (r.type === "error") throw new Error(`SQL failed: ${r.message}`);
  }
}
