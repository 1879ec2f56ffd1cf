// Runs notebooks headless: one tslab kernel per notebook, started in the
// notebook's folder, code cells in order, outputs recorded into a copy of the
// notebook. The kernel is shut down on every path out.
import path from "node:path";
import { type Kernel, type KernelExit, Kernel as KernelClass, describeExit, sleep } from "./kernel";
import { type CodeCell, type ErrorOutput, type Notebook, type Output, joinSource, readNotebook, writeNotebook } from "./nbformat";
import { type ParamValue, injectParameters } from "./params";
import type { Message } from "./protocol";

export type NotebookStatus = "ok" | "failed" | "timed out" | "kernel died" | "interrupted" | "not started";

export interface CellFailure {
  /** 1-based position among all cells, as JupyterLab numbers them. */
  cell: number;
  id: string;
  message: string;
}

export interface NotebookResult {
  notebook: string;
  out: string;
  status: NotebookStatus;
  cellsRun: number;
  codeCells: number;
  seconds: number;
  failures: CellFailure[];
  kernelPid?: number;
}

export interface RunOptions {
  out: string;
  params?: Record<string, ParamValue>;
  /** Per-cell limit in seconds; 0 means none. */
  timeout?: number;
  /** After SIGINT, how long a timed-out cell gets before SIGKILL. */
  graceMs?: number;
  allowErrors?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Progress lines, e.g. for a terminal. */
  log?: (line: string) => void;
  startTimeoutMs?: number;
  /** Stops the run (Ctrl-C): the running kernel is killed and the notebook so far is still written. */
  signal?: AbortSignal;
}

// tslab answers "abort" to requests arriving within 200 ms after an error.
const TSLAB_ABORT_WINDOW_MS = 250;

/** Where the executed copy of a notebook goes; refuses to overwrite the source. */
export function outputPath(notebook: string, outDir: string): string {
  const out = path.resolve(outDir, path.basename(notebook));
  if (out === path.resolve(notebook))
    throw new Error(`--out ${outDir} would overwrite ${notebook}; choose another folder, e.g. --out runs/notebooks`);
  return out;
}

/** Applies one iopub message to the outputs of the running cell (and to earlier displays for updates). */
export class OutputRecorder {
  private readonly displays = new Map<string, { data: Record<string, unknown>; metadata: Record<string, unknown> }[]>();
  private clearOnNext = false;

  handle(cell: CodeCell, msg: Message): void {
    const c = msg.content as Record<string, never>;
    switch (msg.header.msg_type) {
      case "stream":
        return this.push(cell, { output_type: "stream", name: c.name, text: c.text });
      case "display_data":
      case "execute_result": {
        const output =
          msg.header.msg_type === "display_data"
            ? ({ output_type: "display_data", data: c.data ?? {}, metadata: c.metadata ?? {} } as const)
            : ({
                output_type: "execute_result",
                data: c.data ?? {},
                metadata: c.metadata ?? {},
                execution_count: c.execution_count ?? null,
              } as const);
        const id = (c.transient as { display_id?: string } | undefined)?.display_id;
        if (id) {
          const list = this.displays.get(id) ?? [];
          list.push(output);
          this.displays.set(id, list);
        }
        return this.push(cell, output);
      }
      case "update_display_data": {
        const id = (c.transient as { display_id?: string } | undefined)?.display_id;
        for (const o of (id && this.displays.get(id)) || []) {
          o.data = c.data ?? {};
          o.metadata = c.metadata ?? {};
        }
        return;
      }
      case "error":
        return this.push(cell, { output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback ?? [] });
      case "clear_output":
        if (c.wait) this.clearOnNext = true;
        else cell.outputs = [];
        return;
    }
  }

  private push(cell: CodeCell, output: Output): void {
    if (this.clearOnNext) {
      cell.outputs = [];
      this.clearOnNext = false;
    }
    const last = cell.outputs[cell.outputs.length - 1];
    if (output.output_type === "stream" && last?.output_type === "stream" && last.name === output.name) {
      last.text = joinSource(last.text) + joinSource(output.text);
      return;
    }
    cell.outputs.push(output);
  }
}

/** tslab sends no error message, only stderr text; turn that into an nbformat error output. */
export function errorFromStderr(cell: CodeCell, fallback: string): ErrorOutput {
  const stderr = cell.outputs
    .filter((o) => o.output_type === "stream" && o.name === "stderr")
    .map((o) => joinSource((o as { text: string }).text))
    .join("");
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  const named = lines.map((l) => /^(?:Uncaught\s+)?((?:[A-Za-z_$][\w$]*)?(?:Error|Exception)):\s*(.*)$/.exec(l.trim())).find((m) => m);
  if (named) return { output_type: "error", ename: named[1], evalue: named[2], traceback: lines };
  // Compile errors look like "3:7 - Type 'string' is not assignable to type 'number'."
  const compile = lines.find((l) => /^\d+:\d+ - /.test(l.trim()));
  if (compile) return { output_type: "error", ename: "CompileError", evalue: compile.trim(), traceback: lines };
  return { output_type: "error", ename: "Error", evalue: lines[0]?.trim() ?? fallback, traceback: lines.length ? lines : [fallback] };
}

function now(): string {
  return new Date().toISOString();
}

/** Runs one notebook and writes its executed copy. Never throws for a failing notebook: the result says what happened. */
export async function runNotebook(file: string, options: RunOptions): Promise<NotebookResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const name = path.basename(file);
  const result: NotebookResult = { notebook: file, out: "", status: "not started", cellsRun: 0, codeCells: 0, seconds: 0, failures: [] };
  let nb: Notebook;
  try {
    result.out = outputPath(file, options.out);
    nb = injectParameters(readNotebook(file), options.params ?? {}, file);
  } catch (err) {
    result.failures.push({ cell: 0, id: "", message: (err as Error).message });
    return result;
  }
  const cells = nb.cells;
  result.codeCells = clearOutputs(cells);

  let kernel: Kernel | undefined;
  const recorder = new OutputRecorder();
  const save = () => {
    nb.metadata.alexnet = {
      status: result.status,
      parameters: options.params ?? {},
      started: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      failures: result.failures,
    };
    writeNotebook(result.out, nb);
  };
  try {
    log(`${name}: starting kernel`);
    if (options.signal?.aborted) throw new Error("interrupted before the kernel started");
    kernel = await KernelClass.start({ cwd: path.dirname(path.resolve(file)), env: options.env, startTimeoutMs: options.startTimeoutMs });
    result.kernelPid = kernel.pid;
    const running = kernel;
    options.signal?.addEventListener("abort", () => void running.shutdown(0), { once: true });
    const timeoutMs = (options.timeout ?? 0) * 1000;
    result.status = "ok";
    let codeIndex = 0;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i];
      if (cell.cell_type !== "code") continue;
      codeIndex++;
      const source = joinSource(cell.source);
      if (source.trim() === "") continue;
      const cellStart = Date.now();
      const execution: Record<string, string> = { "shell.execute_request": now() };
      cell.metadata.execution = execution;
      const outcome = await runCell(kernel, cell, source, recorder, timeoutMs, options.graceMs ?? 5000);
      execution["shell.execute_reply"] = now();
      result.cellsRun++;
      const secs = (Date.now() - cellStart) / 1000;
      const where = { cell: i + 1, id: cell.id };
      if (outcome.kind === "reply") {
        // tslab's execute_reply carries no execution_count; number the cells as Jupyter would (1, 2, ... in the order run), so the copy looks executed.
        cell.execution_count = outcome.reply.execution_count ?? result.cellsRun;
        if (outcome.reply.status === "ok") {
          log(`${name}: cell ${i + 1} (code ${codeIndex}/${result.codeCells}) ok in ${secs.toFixed(1)} s`);
          continue;
        }
        const error = errorFromStderr(cell, `execute_reply status '${outcome.reply.status}'`);
        cell.outputs.push(error);
        result.failures.push({ ...where, message: `${error.ename}: ${error.evalue}` });
        log(`${name}: cell ${i + 1} failed: ${error.ename}: ${error.evalue}`);
        if (!options.allowErrors) {
          result.status = "failed";
          break;
        }
        result.status = "failed";
        await sleep(TSLAB_ABORT_WINDOW_MS);
        continue;
      }
      const { output, status, message } = unrepliedFailure(outcome, options, kernel.log);
      cell.outputs.push(output);
      result.failures.push({ ...where, message });
      result.status = status;
      log(`${name}: cell ${i + 1} ${message}`);
      break;
    }
  } catch (err) {
    result.status = "not started";
    result.failures.push({ cell: 0, id: "", message: (err as Error).message });
  } finally {
    if (kernel) await kernel.shutdown();
    result.seconds = Math.round((Date.now() - started) / 100) / 10;
    save();
  }
  return result;
}

/** Empties every code cell's outputs and count, so the copy shows only this run; returns how many code cells there are. */
function clearOutputs(cells: Notebook["cells"]): number {
  let code = 0;
  for (const c of cells) {
    if (c.cell_type !== "code") continue;
    c.outputs = [];
    c.execution_count = null;
    code++;
  }
  return code;
}

/** What a cell that never replied (it timed out, or its kernel died or was stopped) puts in the notebook and the result. */
function unrepliedFailure(
  outcome: Exclude<CellOutcome, { kind: "reply" }>,
  options: RunOptions,
  kernelLog: string,
): { output: ErrorOutput; status: NotebookStatus; message: string } {
  const aborted = outcome.kind === "died" && options.signal?.aborted === true;
  const message =
    outcome.kind === "timeout"
      ? `timed out after ${options.timeout} s${outcome.killed ? " (killed: it did not stop on SIGINT)" : " (interrupted)"}`
      : aborted
        ? "the run was interrupted (Ctrl-C or a signal) during this cell"
        : `the kernel died (${describeExit(outcome.exit)})${kernelLog ? `: ${kernelLog.trim().split("\n").slice(-3).join(" | ")}` : ""}`;
  // A dead kernel's last words (up to 4,000 characters of its stderr) go into the notebook, where the cause usually is.
  const lastWords =
    outcome.kind === "died" && !aborted && kernelLog.trim() ? [`the kernel's last output on stderr:\n${kernelLog.trim()}`] : [];
  const ename = outcome.kind === "timeout" ? "CellTimeoutError" : aborted ? "InterruptedError" : "KernelDiedError";
  const status: NotebookStatus = outcome.kind === "timeout" ? "timed out" : aborted ? "interrupted" : "kernel died";
  return { output: { output_type: "error", ename, evalue: message, traceback: [message, ...lastWords] }, status, message };
}

type CellOutcome =
  | { kind: "reply"; reply: { status: string; execution_count?: number } }
  | { kind: "timeout"; killed: boolean }
  | { kind: "died"; exit: KernelExit };

async function runCell(
  kernel: Kernel,
  cell: CodeCell,
  source: string,
  recorder: OutputRecorder,
  timeoutMs: number,
  graceMs: number,
): Promise<CellOutcome> {
  const reply = kernel.execute(source, (msg) => recorder.handle(cell, msg)).then((r) => ({ kind: "reply", reply: r }) as const);
  const died = kernel.exited.then((exit) => ({ kind: "died", exit }) as const);
  const contenders: Promise<CellOutcome | "timeout">[] = [reply, died];
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs > 0) contenders.push(new Promise((r) => (timer = setTimeout(() => r("timeout"), timeoutMs))));
  try {
    const first = await Promise.race(contenders);
    if (first !== "timeout") return first;
  } finally {
    clearTimeout(timer);
  }
  // An awaiting cell stops on SIGINT; a busy loop never sees it, so SIGKILL follows.
  kernel.interrupt();
  const afterInterrupt = await Promise.race([reply, died, sleep(graceMs).then(() => "grace" as const)]);
  if (afterInterrupt === "grace") {
    await kernel.shutdown(0);
    return { kind: "timeout", killed: true };
  }
  return { kind: "timeout", killed: afterInterrupt.kind === "died" };
}

export interface BatchOptions extends RunOptions {
  jobs?: number;
}

/** Runs notebooks with up to `jobs` kernels at once; results in the order given. */
export async function runNotebooks(files: string[], options: BatchOptions): Promise<NotebookResult[]> {
  const results: NotebookResult[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length && !options.signal?.aborted) {
      const i = next++;
      results[i] = await runNotebook(files[i], options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs ?? 1, files.length)) }, worker));
  return results;
}

export function formatSummary(results: NotebookResult[]): string {
  results = results.filter((r) => r !== undefined); // notebooks never started after an interruption
  const rows = results.map((r) => [path.basename(r.notebook), `${r.cellsRun}/${r.codeCells}`, r.seconds.toFixed(1), r.status]);
  const header = ["notebook", "cells run", "seconds", "status"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
  for (const r of results) {
    for (const f of r.failures) {
      out.push(f.cell > 0 ? `FAILED ${r.notebook}, cell ${f.cell} (id ${f.id}): ${f.message}` : `FAILED ${r.notebook}: ${f.message}`);
    }
  }
  return out.join("\n");
}
