import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { planWasmThreads } from "../../lib/engine/wasm-threads";
import { requestedWasmThreads } from "../../lib/engine/select";

test("planWasmThreads writes a worker script that loads the package's main script from a file", () => {
  const plan = planWasmThreads(2);
  assert.ok("threads" in plan, "reason" in plan ? plan.reason : "");
  assert.equal(plan.threads, 2);
  assert.ok(existsSync(plan.workerFile) && existsSync(plan.mainFile));
  const worker = readFileSync(plan.workerFile, "utf8");
  assert.ok(worker.includes(JSON.stringify(plan.mainFile)));
  assert.ok(!worker.includes("URL.createObjectURL(e.data.urlOrBlob)"));
});

test("the worker script's folder is reused only while it is private; a tampered script is rewritten", () => {
  const first = planWasmThreads(2) as { workerFile: string };
  const again = planWasmThreads(2) as { workerFile: string };
  assert.equal(again.workerFile, first.workerFile, "one folder per script content, reused");
  const dir = path.dirname(first.workerFile);
  const good = readFileSync(first.workerFile, "utf8");
  writeFileSync(first.workerFile, "planted();");
  assert.equal(
    readFileSync((planWasmThreads(2) as { workerFile: string }).workerFile, "utf8"),
    good,
    "content is checked, not just existence",
  );
  chmodSync(dir, 0o777);
  try {
    const other = planWasmThreads(2) as { workerFile: string };
    assert.notEqual(path.dirname(other.workerFile), dir, "a folder others can write to is not trusted");
    assert.equal(readFileSync(other.workerFile, "utf8"), good);
    rmSync(path.dirname(other.workerFile), { recursive: true, force: true });
  } finally {
    chmodSync(dir, 0o700);
  }
});

test("planWasmThreads says why when threads cannot or need not be used", () => {
  assert.match((planWasmThreads(1) as { reason: string }).reason, /single-threaded build/);
  assert.match((planWasmThreads(0) as { reason: string }).reason, /whole number >= 1/);
  const missing = planWasmThreads(2, () => {
    throw new Error("Cannot find module 'x'");
  });
  assert.match((missing as { reason: string }).reason, /threaded wasm build is missing/);
});

test("requestedWasmThreads: option, then ALEXNET_WASM_THREADS, then every core; bad values are refused", () => {
  assert.equal(requestedWasmThreads(3, "1"), 3);
  assert.equal(requestedWasmThreads(undefined, "1"), 1);
  assert.ok(requestedWasmThreads(undefined, "") >= 1);
  assert.throws(() => requestedWasmThreads(undefined, "two"), /ALEXNET_WASM_THREADS=two is not a thread count/);
});

test("two wasm threads give bit-identical gradients to one, and the process still exits", () => {
  const child = path.join(__dirname, "..", "helpers", "wasm-threads-child.ts");
  const run = (threads: number) => {
    const r = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", child, String(threads)], {
      encoding: "utf8",
      timeout: 60_000,
      cwd: path.join(__dirname, "..", ".."),
    });
    assert.equal(r.status, 0, `child with ${threads} thread(s) failed or hung: ${r.stderr || r.signal}`);
    return JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as { details: string[]; hash: string };
  };
  const one = run(1);
  const two = run(2);
  assert.ok(
    one.details.some((d) => d.startsWith("single-threaded")),
    one.details.join(", "),
  );
  assert.ok(two.details.includes("2 threads"), two.details.join(", "));
  assert.equal(two.hash, one.hash);
});
