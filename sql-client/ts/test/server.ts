/**
 * Starts a real DoSQL for the tests: a fresh data directory, a known
 * token, a free port.
 *
 * - By default a native dosql-server (DOSQL_SERVER names the binary); the
 *   port is the one the system picks, read from its `listening on
 *   http://ADDR` line.
 * - With DOSQL_TARGET=wrangler, the Worker under `wrangler dev` (workerd,
 *   local persistence in the data directory, the token as DOSQL_TOKEN),
 *   run from DOSQL_ROOT with the repository's own tools on PATH; ready
 *   when /health answers. It runs in a process group of its own so that
 *   stopping it takes workerd down too.
 * - startSdkWorker: the SDKs' README Worker examples in workerd, the test
 *   Worker of tests/e2e/sdk-worker in front of the DoSQL Worker, both in
 *   one multi-config `wrangler dev` (wrangler only).
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
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
  if (process.env.DOSQL_TARGET === "wrangler") return startWrangler(listen, dataDir);
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

/** A port no one listens on now (wrangler wants one named). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const addr = probe.address();
      probe.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * The test Worker of tests/e2e/sdk-worker on a port of its own, with the
 * DoSQL Worker beside it in the same `wrangler dev`: its /sql and /lake
 * run the SDKs' README Worker examples against real bindings; every other
 * path reaches the DoSQL Worker. Only under DOSQL_TARGET=wrangler.
 */
export function startSdkWorker(): Promise<Server> {
  const root = process.env.DOSQL_ROOT;
  if (!root) throw new Error("DOSQL_ROOT must name the repository (see test.sh)");
  const dir = mkdtempSync(join(tmpdir(), "dosql-ts-sdk-worker-"));
  // wrangler hands --env-file to the first config only; a later one reads
  // the .dev.vars beside it. So the DoSQL Worker runs from a copy of
  // wrangler.toml (its entry point made absolute) next to one holding the
  // token, rather than from a .dev.vars written into the repository.
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const copy = toml.replace(/^main = "([^"]+)"$/m, (_, main: string) => `main = "${join(root, main)}"`);
  if (copy === toml) throw new Error("wrangler.toml has no `main = \"...\"` line to copy");
  mkdirSync(join(dir, "dosql"));
  writeFileSync(join(dir, "dosql", "wrangler.toml"), copy);
  writeFileSync(join(dir, "dosql", ".dev.vars"), `DOSQL_TOKEN=${TOKEN}\n`);
  return startWrangler("127.0.0.1:0", dir, [join(root, "tests/e2e/sdk-worker/wrangler.toml"), join(dir, "dosql", "wrangler.toml")]);
}

/** `wrangler dev` of the repository's wrangler.toml, or of `configs` (the first is served). */
async function startWrangler(listen: string, dataDir?: string, configs: string[] = []): Promise<Server> {
  const root = process.env.DOSQL_ROOT;
  if (!root) throw new Error("DOSQL_ROOT must name the repository (see test.sh)");
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "dosql-ts-wrangler-"));
  const requested = Number(listen.split(":")[1] ?? "0");
  const port = requested || (await freePort());
  const vars = join(dir, "dev.vars");
  writeFileSync(vars, `DOSQL_TOKEN=${TOKEN}\n`);
  const args = ["dev", ...configs.flatMap((c) => ["-c", c])];
  args.push("--local", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", join(dir, "state"));
  args.push("--env-file", vars, "--show-interactive-dev-session=false");
  const child = spawn("wrangler", args, {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: `${root}/node_modules/.bin:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  });
  let log = "";
  child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once("exit", () => done());
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        done();
      }
    });
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`wrangler exited with ${child.exitCode}: ${log}`);
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        return { base, addr: `127.0.0.1:${port}`, dataDir: dir, process: child, db: (name) => `${base}/db/${name}`, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error(`wrangler dev not ready after 120 s: ${log}`);
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
