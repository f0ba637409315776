/**
 * Spawns a real dosql-server for the tests: a fresh data directory, a
 * known token, the port the system picks (read from its
 * `listening on http://ADDR` line). DOSQL_SERVER names the binary.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TOKEN = "test-token-7";

export interface Server {
  base: string;
  addr: string;
  dataDir: string;
  process: ChildProcess;
  /** The URL of database `name`. */
  db(name: string): string;
  stop(): Promise<void>;
}

export function startServer(listen = "127.0.0.1:0", dataDir?: string): Promise<Server> {
  const bin = process.env.DOSQL_SERVER;
  if (!bin) throw new Error("DOSQL_SERVER must name the dosql-server binary (see test.sh)");
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "dosql-ts-"));
  const child = spawn(bin, ["--listen", listen, "--data", dir, "--token", TOKEN], {
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
      const base = m[1]!;
      resolve({
        base,
        addr: base.replace("http://", ""),
        dataDir: dir,
        process: child,
        db: (name) => `${base}/db/${name}`,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGKILL");
          }),
      });
    });
  });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

let counter = 0;
/** A database name of its own for each test. */
export function freshName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
