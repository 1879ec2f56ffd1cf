import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { Worker } from "node:worker_threads";
import { startTsWorker, TS_WORKER_KEY } from "../../lib/data/ts-worker";

// realpath: the errors name files by their real path.
const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "alexnet-ts-worker-")));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `files` (relative path -> TypeScript) into a fresh folder of `dir`; returns the folder. */
function project(name: string, files: Record<string, string>): string {
  const root = path.join(dir, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once("message", (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once("error", reject);
  });
}

test("a worker runs a TypeScript entry, its sibling and folder imports, with the caller's workerData", async () => {
  const root = project("ok", {
    "entry.ts": [
      `import { parentPort, workerData } from "node:worker_threads";`,
      `import { double } from "./double";`,
      `import { three } from "./nested";`,
      `const n: number = (workerData as { n: number }).n;`,
      `parentPort?.postMessage({ value: double(n) + three, data: Object.keys(workerData as object).sort() });`,
    ].join("\n"),
    "double.ts": `export const double = (x: number): number => 2 * x;\n`,
    "nested/index.ts": `export const three: number = 3;\n`,
  });
  const reply = await firstMessage(startTsWorker(path.join(root, "entry.ts"), { n: 20 }));
  assert.deepEqual(reply, { value: 43, data: ["n", TS_WORKER_KEY].sort() });
});

test("an entry that imports a file other than TypeScript is refused, naming both and what to do instead", () => {
  const root = project("json", {
    "entry.ts": `import data from "./data.json";\nexport const x = data;\n`,
    "data.json": `{}`,
  });
  const entry = path.join(root, "entry.ts");
  assert.throws(() => startTsWorker(entry, {}, { caller: "createLoader", fallback: "pass workers: 0" }), (err: Error) => {
    assert.equal(err.message, `createLoader: ${entry} imports ./data.json, which is not a TypeScript file next to it; the worker cannot load it. Pass workers: 0.`);
    return true;
  });
});

test("a missing entry is named, with what to do", () => {
  const entry = path.join(dir, "nowhere", "entry.ts");
  assert.throws(() => startTsWorker(entry, {}, { caller: "createLoader", fallback: "pass workers: 0" }), {
    message: `createLoader: the worker module ${entry} is missing; reinstall the project, or pass workers: 0.`,
  });
  assert.throws(() => startTsWorker(entry), { message: `startTsWorker: the worker module ${entry} is missing; reinstall the project.` });
});

test("a module the worker reaches only at run time, not transpiled for it, fails in the worker with its name", async () => {
  const root = project("late", {
    "entry.ts": `const id = "./late";\nrequire(id);\n`,
    "late.ts": `export const x = 1;\n`,
  });
  const entry = path.join(root, "entry.ts");
  await assert.rejects(firstMessage(startTsWorker(entry, {}, { name: "loader worker" })), {
    message: `loader worker: ./late (imported by ${entry}) was not transpiled for the worker`,
  });
});

test("the bootstrap's key in workerData is reserved", () => {
  const root = project("reserved", { "entry.ts": `export {};\n` });
  assert.throws(() => startTsWorker(path.join(root, "entry.ts"), { [TS_WORKER_KEY]: 1 }), /workerData\.tsWorker is reserved/);
});
