// Starts a worker thread on a TypeScript module. A worker_threads Worker runs
// JavaScript, and lib/ is TypeScript (run through ts-node by the CLI and tests,
// compiled in memory by tslab in a notebook). So the main thread transpiles the
// worker's modules once (TypeScript is loaded already, or is a dependency) and
// the worker runs them through ts-worker-bootstrap.ts: no compiler loads in the
// worker, and execArgv is empty so that ts-node's hooks are not loaded either.
// Paths go through realpath: in a notebook lib/ is reached as notebooks/lib, a link.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { BootstrapData } from "./ts-worker-bootstrap";

/** The workerData key that carries the bootstrap's data; the caller's data must not use it. */
export const TS_WORKER_KEY = "tsWorker";

export interface TsWorkerOptions {
  /** Who is asking, the first word of every error ("createLoader"). Default "startTsWorker". */
  caller?: string;
  /** What the user can do instead, ending the errors ("pass workers: 0"). */
  fallback?: string;
  /** How errors raised inside the worker name it. Default "ts worker". */
  name?: string;
}

/** The part of the typescript package used here (its own types need not resolve where a notebook runs). */
interface Transpiler {
  transpileModule(input: string, options: { fileName: string; compilerOptions: Record<string, unknown> }): { outputText: string };
  ModuleKind: { CommonJS: number };
  ScriptTarget: { ES2022: number };
}

interface WorkerCode {
  /** The bootstrap, as JavaScript. */
  bootstrap: string;
  entry: string;
  files?: Record<string, string>;
}

const codeCache = new Map<string, WorkerCode>();

function findUp(from: string, relative: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The typescript package, found from `dir` or any folder above it (a notebook's lib/ link may sit outside the project). */
function loadTranspiler(dir: string): Transpiler | undefined {
  let tsPath: string | undefined;
  try {
    tsPath = require.resolve("typescript", { paths: [dir] });
  } catch {
    const pkg = findUp(dir, path.join("node_modules", "typescript", "package.json"));
    tsPath = pkg ? path.dirname(pkg) : undefined;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return tsPath ? (require(tsPath) as Transpiler) : undefined;
}

function transpile(ts: Transpiler, file: string): string {
  return ts.transpileModule(readFileSync(file, "utf8"), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
}

/** The bootstrap and the entry's modules, transpiled once per entry. */
function workerCode(entryFile: string, options: TsWorkerOptions): WorkerCode {
  const caller = options.caller ?? "startTsWorker";
  const orElse = options.fallback ? `, or ${options.fallback}` : "";
  const here = realpathSync(__dirname);
  const dir = existsSync(path.dirname(entryFile)) ? realpathSync(path.dirname(entryFile)) : path.dirname(entryFile);
  const entry = path.join(dir, path.basename(entryFile));
  const cached = codeCache.get(entry);
  if (cached) return cached;
  let code: WorkerCode;
  const js = entry.replace(/\.ts$/, ".js");
  const bootstrapJs = path.join(here, "ts-worker-bootstrap.js");
  if (__filename.endsWith(".js") && existsSync(js) && existsSync(bootstrapJs)) {
    code = { bootstrap: readFileSync(bootstrapJs, "utf8"), entry: js };
  } else {
    if (!existsSync(entry)) throw new Error(`${caller}: the worker module ${entry} is missing; reinstall the project${orElse}.`);
    const ts = loadTranspiler(here);
    if (!ts) throw new Error(`${caller}: worker threads need the typescript package to prepare ${entry}, and it is not installed; run \`npm ci\` in the project${orElse}.`);
    const files: Record<string, string> = {};
    const visit = (file: string): void => {
      if (file in files) return;
      files[file] = transpile(ts, file);
      for (const m of files[file].matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
        const base = path.resolve(path.dirname(file), m[1]);
        const hit = [base, `${base}.ts`, path.join(base, "index.ts")].find((f) => existsSync(f) && f.endsWith(".ts"));
        if (!hit) {
          const instead = options.fallback ? ` ${options.fallback[0].toUpperCase()}${options.fallback.slice(1)}.` : "";
          throw new Error(`${caller}: ${file} imports ${m[1]}, which is not a TypeScript file next to it; the worker cannot load it.${instead}`);
        }
        visit(hit);
      }
    };
    visit(entry);
    code = { bootstrap: transpile(ts, path.join(here, "ts-worker-bootstrap.ts")), entry, files };
  }
  codeCache.set(entry, code);
  return code;
}

/**
 * A worker thread running the TypeScript module `entryFile` (an absolute .ts path)
 * and the relative .ts imports it reaches; package imports are required as usual.
 * The module finds `workerData` in node:worker_threads as usual, with one more key,
 * TS_WORKER_KEY. Throws, naming the file, when the entry is missing, typescript is
 * not installed, or the entry reaches a relative import that is not a .ts file.
 */
export function startTsWorker(entryFile: string, workerData: Record<string, unknown> = {}, options: TsWorkerOptions = {}): Worker {
  if (TS_WORKER_KEY in workerData) throw new Error(`startTsWorker: workerData.${TS_WORKER_KEY} is reserved for the worker's bootstrap; use another key.`);
  const code = workerCode(entryFile, options);
  const bootstrap: BootstrapData = { entry: code.entry, name: options.name ?? "ts worker", ...(code.files ? { files: code.files } : {}) };
  return new Worker(code.bootstrap, { eval: true, execArgv: [], workerData: { ...workerData, [TS_WORKER_KEY]: bootstrap } });
}
