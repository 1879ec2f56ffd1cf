// The first code a TypeScript worker runs (started by ts-worker.ts). It is not
// imported: ts-worker.ts reads this file, transpiles it and hands the text to
// `new Worker(code, { eval: true })`, so it may import only Node's built-in
// modules; everything else comes through workerData. It is a real file rather
// than a string so that the compiler and the linter check it like the rest.
//
// Given transpiled CommonJS for each .ts file the worker needs, it runs the entry
// through the small module loader below; given none (lib/ compiled to .js on
// disk), it requires the entry. The worker thus starts in tens of milliseconds,
// without loading a compiler of its own.
import path from "node:path";
import { workerData } from "node:worker_threads";

/** What ts-worker.ts puts in workerData under TS_WORKER_KEY, beside the caller's data. */
export interface BootstrapData {
  /** The module the worker runs: an absolute .ts path, or a .js path when `files` is absent. */
  entry: string;
  /** Transpiled CommonJS by absolute .ts path; absent when lib/ is compiled JavaScript on disk. */
  files?: Record<string, string>;
  /** How errors name this worker ("loader worker"). */
  name: string;
}

/** TS_WORKER_KEY of ts-worker.ts, repeated: this file can import no sibling (see above). */
const KEY = "tsWorker";

interface LoadedModule {
  exports: unknown;
}

function run({ entry, files, name }: BootstrapData): void {
  if (!files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(entry);
    return;
  }
  const sources = files;
  const cache = new Map<string, LoadedModule>();
  const load = (file: string): unknown => {
    const cached = cache.get(file);
    if (cached) return cached.exports;
    const module: LoadedModule = { exports: {} };
    cache.set(file, module); // before running it, so that an import cycle gets the partial exports, as Node does
    const dir = path.dirname(file);
    const local = (id: string): unknown => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (!id.startsWith(".")) return require(id);
      const base = path.resolve(dir, id);
      const hit = [base, `${base}.ts`, path.join(base, "index.ts")].find((f) => f in sources);
      if (!hit) throw new Error(`${name}: ${id} (imported by ${file}) was not transpiled for the worker`);
      return load(hit);
    };
    // sourceURL: stack traces name the .ts file rather than an anonymous function.
    new Function("exports", "require", "module", "__filename", "__dirname", `${sources[file]}\n//# sourceURL=${file}`)(module.exports, local, module, file, dir);
    return module.exports;
  };
  load(entry);
}

run((workerData as Record<string, BootstrapData>)[KEY]);
