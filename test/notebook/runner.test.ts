// The runner against real tslab kernels: each test starts one or more kernels.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import type { CodeCell, Notebook } from "../../lib/notebook/nbformat";
import { OutputRecorder, errorFromStderr, formatSummary, outputPath, runNotebook, runNotebooks } from "../../lib/notebook/runner";
import { alive, groupAlive, tempDir, waitUntil, writeNotebookFile } from "../helpers/notebooks";

const tmp = tempDir("alexnet-runner-");
after(tmp.cleanup);
const out = path.join(tmp.dir, "out");
const root = path.resolve(__dirname, "..", "..");

function executed(file: string): Notebook {
  return JSON.parse(readFileSync(path.join(out, path.basename(file)), "utf8")) as Notebook;
}
function text(cell: CodeCell): string {
  return cell.outputs.map((o) => ("text" in o ? [o.text].flat().join("") : "")).join("");
}
async function assertKernelGone(pid: number | undefined) {
  assert.ok(pid && pid > 0, "the result records the kernel pid");
  assert.ok(await waitUntil(() => !alive(pid) && !groupAlive(pid)), `kernel ${pid} or its process group is still alive`);
}

test("a passing notebook: outputs, execution counts, cell ids and the kernel's cwd", async () => {
  const file = writeNotebookFile(tmp.dir, "pass.ipynb", [
    { source: "# title", markdown: true },
    "console.log('hello'); console.log('world')",
    "const x: number = 20;\nx + 1",
    "process.cwd()",
  ]);
  const source = readFileSync(file, "utf8");
  const r = await runNotebook(file, { out });
  assert.equal(r.status, "ok", JSON.stringify(r.failures));
  assert.equal(r.cellsRun, 3);
  const nb = executed(file);
  assert.equal(nb.nbformat, 4);
  assert.equal(nb.nbformat_minor, 5);
  assert.deepEqual(
    nb.cells.map((c) => c.id),
    ["md0", "cell1", "cell2", "cell3"],
  );
  const code = nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
  assert.deepEqual(
    code.map((c) => c.execution_count),
    [1, 2, 3],
  );
  assert.equal(text(code[0]), "hello\nworld\n", "consecutive stream outputs are merged");
  assert.equal(text(code[1]), "21\n");
  assert.match(text(code[2]), new RegExp(tmp.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), "the kernel runs in the notebook's folder");
  assert.equal(readFileSync(file, "utf8"), source, "the source notebook is untouched");
  await assertKernelGone(r.kernelPid);
});

test("a failing cell stops the notebook and is recorded as an error output naming the cell", async () => {
  const file = writeNotebookFile(tmp.dir, "fail.ipynb", [
    "console.log('one')",
    "throw new RangeError('broken on purpose')",
    "console.log('never')",
  ]);
  const r = await runNotebook(file, { out });
  assert.equal(r.status, "failed");
  assert.deepEqual(
    r.failures.map((f) => [f.cell, f.id]),
    [[2, "cell1"]],
  );
  assert.match(r.failures[0].message, /RangeError: broken on purpose/);
  const code = executed(file).cells as CodeCell[];
  const err = code[1].outputs.find((o) => o.output_type === "error");
  assert.ok(err && err.output_type === "error" && err.ename === "RangeError" && err.evalue === "broken on purpose");
  assert.equal(code[2].execution_count, null, "cells after the failure do not run");
  assert.match(formatSummary([r]), /FAILED .*fail\.ipynb, cell 2 \(id cell1\): RangeError: broken on purpose/);
  await assertKernelGone(r.kernelPid);
});

test("--allow-errors runs the cells after a failure (past tslab's abort window)", async () => {
  const file = writeNotebookFile(tmp.dir, "allow.ipynb", ["undefinedFunction()", "const n: number = 'text';", "console.log('still here')"]);
  const r = await runNotebook(file, { out, allowErrors: true });
  assert.equal(r.status, "failed");
  assert.equal(r.cellsRun, 3);
  assert.deepEqual(
    r.failures.map((f) => f.cell),
    [1, 2],
  );
  assert.match(r.failures[1].message, /^CompileError: .*not assignable/);
  const code = executed(file).cells as CodeCell[];
  assert.equal(text(code[2]), "still here\n");
  assert.equal(typeof code[2].execution_count, "number");
});

test("a cell stuck in a loop is interrupted at the timeout; an unstoppable one is killed", async () => {
  const loop = writeNotebookFile(tmp.dir, "loop.ipynb", ["1", "while (true) {}", "console.log('after')"]);
  // execSync blocks the kernel's thread in native code, where SIGINT cannot break in.
  const stuck = writeNotebookFile(tmp.dir, "stuck.ipynb", ["require('child_process').execSync('sleep 30')"]);
  const t0 = Date.now();
  const [a, b] = await runNotebooks([loop, stuck], { out, timeout: 2, graceMs: 1500, jobs: 2 });
  assert.ok(Date.now() - t0 < 20_000, "both stop well within the limit");
  assert.equal(a.status, "timed out");
  assert.deepEqual(
    a.failures.map((f) => f.cell),
    [2],
  );
  assert.match(a.failures[0].message, /timed out after 2 s \(interrupted\)/);
  assert.equal(b.status, "timed out");
  assert.match(b.failures[0].message, /killed: it did not stop on SIGINT/);
  const cells = executed(loop).cells as CodeCell[];
  assert.equal(cells[2].execution_count, null);
  assert.equal(cells[1].outputs.at(-1)?.output_type, "error");
  await assertKernelGone(a.kernelPid);
  await assertKernelGone(b.kernelPid);
});

test("a kernel that dies is reported at its cell, with the exit code and its last words on stderr", async () => {
  // fd 2 directly: the kernel's own stderr, as a native crash writes it (console output goes to the notebook instead).
  const file = writeNotebookFile(tmp.dir, "die.ipynb", ["1", 'require("fs").writeSync(2, "wasm: out of memory\\n"); process.exit(7)', "2"]);
  const r = await runNotebook(file, { out, timeout: 30 });
  assert.equal(r.status, "kernel died");
  assert.equal(r.failures[0].cell, 2);
  assert.match(r.failures[0].message, /exit code 7/);
  const error = (executed(file).cells[1] as CodeCell).outputs.at(-1) as { output_type: string; traceback: string[] };
  assert.equal(error.output_type, "error");
  assert.match(error.traceback.join("\n"), /last output on stderr:\nwasm: out of memory/);
  await assertKernelGone(r.kernelPid);
});

test("parameters are injected after the parameters cell and override its defaults", async () => {
  const file = writeNotebookFile(tmp.dir, "params.ipynb", [
    { source: 'let profile = "smoke";\nlet epochs = 1;', tags: ["parameters"] },
    "console.log(profile, epochs * 2)",
  ]);
  const r = await runNotebook(file, { out, params: { profile: "laptop", epochs: 4 } });
  assert.equal(r.status, "ok", JSON.stringify(r.failures));
  const nb = executed(file);
  assert.deepEqual(nb.cells[1].metadata.tags, ["injected-parameters"]);
  assert.equal(text(nb.cells[2] as CodeCell), "laptop 8\n");
  assert.deepEqual((nb.metadata.alexnet as { parameters: unknown }).parameters, { profile: "laptop", epochs: 4 });
  const bad = await runNotebook(file, { out, params: { epoch: 4 } });
  assert.equal(bad.status, "not started");
  assert.match(bad.failures[0].message, /parameter 'epoch' is not declared/);
});

test("display updates are applied to the output they target, across cells", async () => {
  const file = writeNotebookFile(tmp.dir, "display.ipynb", [
    "import * as tslab from 'tslab';\nconst d = tslab.newDisplay();\nd.text('step 1');",
    "d.text('step 2'); d.html('<b>done</b>'); tslab.display.text('separate');",
  ]);
  const r = await runNotebook(file, { out });
  assert.equal(r.status, "ok", JSON.stringify(r.failures));
  const [first, second] = executed(file).cells as CodeCell[];
  assert.equal(first.outputs.length, 1);
  assert.deepEqual(first.outputs[0].output_type === "display_data" && first.outputs[0].data, { "text/html": "<b>done</b>" });
  assert.deepEqual(
    second.outputs.map((o) => o.output_type === "display_data" && o.data),
    [{ "text/plain": "separate" }],
  );
});

test("the CLI exits non-zero naming notebook and cell, and SIGTERM leaves no kernel behind", async () => {
  const failing = writeNotebookFile(tmp.dir, "cli-fail.ipynb", ["1", "throw new Error('cli failure')"]);
  const run = (args: string[]) =>
    spawn(process.execPath, [path.join(root, "bin", "alexnet.js"), "notebooks", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const collect = (p: ReturnType<typeof run>) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      let stdout = "";
      p.stdout!.on("data", (d) => (stdout += d));
      p.stderr!.on("data", (d) => (stdout += d));
      p.on("exit", (code) => resolve({ code, stdout }));
    });
  const res = await collect(run([failing, "--out", out]));
  assert.equal(res.code, 1);
  assert.match(res.stdout, /FAILED .*cli-fail\.ipynb, cell 2 \(id cell1\): Error: cli failure/);

  // The cell leaves a marker before it loops, so the signal lands while the cell runs, however slow the machine.
  const marker = path.join(tmp.dir, "loop-started");
  const looping = writeNotebookFile(tmp.dir, "cli-loop.ipynb", [
    `require("fs").writeFileSync(${JSON.stringify(marker)}, "x"); while (true) {}`,
  ]);
  const child = run([looping, "--out", out, "--timeout", "60"]);
  const done = collect(child);
  assert.ok(await waitUntil(() => existsSync(marker), 30_000), "the looping cell started");
  const kernels = () => {
    const ps = spawn("pgrep", ["-f", `tslab-kernel.js`]);
    return new Promise<number[]>((resolve) => {
      let s = "";
      ps.stdout.on("data", (d) => (s += d));
      ps.on("exit", () => resolve(s.split("\n").filter(Boolean).map(Number)));
    });
  };
  const before = await kernels();
  child.kill("SIGTERM");
  const { code, stdout: all } = await done;
  assert.equal(code, 143);
  assert.ok(await waitUntil(() => before.every((pid) => !alive(pid)), 5000), "kernels started by the CLI are gone");
  assert.match(all, /cli-loop\.ipynb +1\/1 +[\d.]+ +interrupted/, "the summary says the notebook was interrupted");
  const written = executed(looping);
  assert.equal((written.metadata.alexnet as { status: string }).status, "interrupted", "what ran so far is written");
});

test("a runner killed with SIGKILL mid-loop leaves no kernel, no process the notebook started and no temp folder", async () => {
  // The cell starts a child process, says where it all is, then holds the kernel's thread for good.
  const facts = path.join(tmp.dir, "sigkill-facts.json");
  const looping = writeNotebookFile(tmp.dir, "sigkill.ipynb", [
    [
      'const started = require("child_process").spawn("sleep", ["300"], { stdio: "ignore" });',
      `require("fs").writeFileSync(${JSON.stringify(facts)}, JSON.stringify({ kernel: process.pid, child: started.pid, dir: require("path").dirname(process.argv[2]) }));`,
      "while (true) {}",
    ].join("\n"),
  ]);
  const script = `require(${JSON.stringify(path.join(root, "lib", "notebook", "runner"))}).runNotebook(${JSON.stringify(looping)}, { out: ${JSON.stringify(out)} })`;
  const runner = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", "-e", script], { cwd: root, stdio: "ignore" });
  try {
    assert.ok(await waitUntil(() => existsSync(facts), 60_000), "the looping cell started");
    const { kernel, child, dir } = JSON.parse(readFileSync(facts, "utf8")) as { kernel: number; child: number; dir: string };
    assert.ok(alive(kernel) && alive(child) && existsSync(dir), "kernel, its child and its temp folder exist while the cell runs");
    runner.kill("SIGKILL");
    assert.ok(await waitUntil(() => !alive(kernel), 10_000), `kernel ${kernel} outlived the runner`);
    assert.ok(await waitUntil(() => !alive(child), 10_000), `the notebook's child process ${child} outlived the runner`);
    assert.ok(await waitUntil(() => !existsSync(dir), 10_000), `the kernel's temp folder ${dir} is still there`);
  } finally {
    runner.kill("SIGKILL");
  }
});

test("OutputRecorder: clear_output with wait clears on the next output", () => {
  const cell: CodeCell = { cell_type: "code", id: "x", metadata: {}, source: "", outputs: [], execution_count: null };
  const rec = new OutputRecorder();
  const msg = (msg_type: string, content: Record<string, unknown>) => ({
    header: { msg_type } as never,
    parent_header: {},
    metadata: {},
    content,
  });
  rec.handle(cell, msg("stream", { name: "stdout", text: "a" }));
  rec.handle(cell, msg("clear_output", { wait: true }));
  assert.equal(cell.outputs.length, 1);
  rec.handle(cell, msg("execute_result", { data: { "text/plain": "2" }, metadata: {}, execution_count: 4 }));
  assert.deepEqual(cell.outputs, [{ output_type: "execute_result", data: { "text/plain": "2" }, metadata: {}, execution_count: 4 }]);
  rec.handle(cell, msg("clear_output", { wait: false }));
  assert.deepEqual(cell.outputs, []);
});

test("errorFromStderr names the error from tslab's stderr text", () => {
  const cell: CodeCell = {
    cell_type: "code",
    id: "x",
    metadata: {},
    source: "",
    outputs: [{ output_type: "stream", name: "stderr", text: "evalmachine:1\nthrow x\n\nTypeError: nope\n    at foo\n" }],
    execution_count: 1,
  };
  assert.deepEqual([errorFromStderr(cell, "f").ename, errorFromStderr(cell, "f").evalue], ["TypeError", "nope"]);
  cell.outputs = [];
  assert.equal(errorFromStderr(cell, "status 'error'").evalue, "status 'error'");
});

test("outputPath refuses to overwrite the source notebook", () => {
  assert.throws(() => outputPath("notebooks/a.ipynb", "notebooks"), /would overwrite/);
  assert.equal(outputPath("notebooks/a.ipynb", "runs/x"), path.resolve("runs/x/a.ipynb"));
});
