// Chooses the fastest TensorFlow.js engine this machine can run, and says why
// the faster ones were passed over. Every import of a native package is guarded:
// a missing or broken optional package must never crash a notebook.
import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { visibleGpus } from "./gpu";
import { registerTrainingKernels } from "./kernels/index";
import { planWasmThreads, wasmThreadsCount, withWasmThreads } from "./wasm-threads";

export const ENGINES = ["gpu", "node", "wasm", "cpu"] as const;
export type EngineName = (typeof ENGINES)[number];

export interface SkippedEngine {
  engine: EngineName;
  reason: string;
}

export interface EngineReport {
  engine: EngineName;
  /** tfjs backend name: "tensorflow" for both native engines. */
  backend: string;
  /** How the choice was made: forced by ALEXNET_BACKEND or an option, or automatic. */
  forcedBy?: string;
  skipped: SkippedEngine[];
  tfjsVersion: string;
  /** Engine-specific facts, e.g. wasm SIMD and threads, the GPU's name. */
  details: string[];
}

export interface SelectOptions {
  /** Force an engine; defaults to process.env.ALEXNET_BACKEND. */
  force?: string;
  /** Injected for tests: loads an optional package by name. */
  load?: (pkg: string) => unknown;
  /** Injected for tests: the GPUs this machine exposes. */
  gpus?: () => string[];
  /** Threads for the wasm engine; defaults to ALEXNET_WASM_THREADS, else every core. 1 = single-threaded build. */
  wasmThreads?: number;
}

export const INSTALL_HINT: Record<EngineName, string> = {
  gpu: "install it with `npm install @tensorflow/tfjs-node-gpu` on Linux x64 with CUDA 11.2 and cuDNN 8.1 (README: GPU set-up)",
  node: "install it with `npm install @tensorflow/tfjs-node` (its install script downloads libtensorflow, so it needs network access to that host)",
  wasm: "reinstall dependencies with `npm ci` (@tensorflow/tfjs-backend-wasm is a regular dependency)",
  cpu: "reinstall dependencies with `npm ci`",
};

const PACKAGE: Record<"gpu" | "node", string> = {
  gpu: "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
};

export class EngineUnavailableError extends Error {
  constructor(
    readonly engine: EngineName,
    readonly reason: string,
  ) {
    super(`ALEXNET_BACKEND=${engine} was requested but that engine is unavailable: ${reason}; ${INSTALL_HINT[engine]}.`);
    this.name = "EngineUnavailableError";
  }
}

export function parseEngineName(value: string, source = "ALEXNET_BACKEND"): EngineName {
  const v = value.trim().toLowerCase();
  if ((ENGINES as readonly string[]).includes(v)) return v as EngineName;
  throw new Error(`${source}=${value} is not an engine; use one of ${ENGINES.join(", ")}.`);
}

/** The first line of an error, without the stack: enough to say why a package failed. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (
    text
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? "unknown error"
  );
}

function defaultLoad(pkg: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(pkg);
}

// Checked with `in`, not a boolean tag: tslab compiles lib/ without strictNullChecks, where boolean tags do not narrow.
type Attempt = { details: string[] } | { reason: string };

async function tryNative(engine: "gpu" | "node", opts: Required<Pick<SelectOptions, "load" | "gpus">>): Promise<Attempt> {
  let gpuNames: string[] = [];
  if (engine === "gpu") {
    // Check for a GPU before loading the package: tfjs-node-gpu silently runs on the CPU when none is visible.
    gpuNames = opts.gpus();
    if (gpuNames.length === 0) return { reason: "no CUDA GPU visible (nvidia-smi lists none, or CUDA_VISIBLE_DEVICES hides them)" };
  }
  try {
    opts.load(PACKAGE[engine]);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "MODULE_NOT_FOUND" && firstLine(err).includes(`'${PACKAGE[engine]}'`)) {
      return { reason: `${PACKAGE[engine]} is not installed` };
    }
    return { reason: `${PACKAGE[engine]} failed to load: ${firstLine(err)}` };
  }
  return activate("tensorflow", engine === "gpu" ? gpuNames.map((g) => `GPU: ${g}`) : ["native TensorFlow on the CPU"]);
}

async function activate(backend: string, details: string[]): Promise<Attempt> {
  try {
    if (!(await tf.setBackend(backend))) return { reason: `backend '${backend}' failed to initialise` };
    await tf.ready();
    return { details };
  } catch (err) {
    return { reason: `backend '${backend}' failed to initialise: ${firstLine(err)}` };
  }
}

/** The wasm thread count asked for: the option, else ALEXNET_WASM_THREADS, else every core. */
export function requestedWasmThreads(option?: number, env: string | undefined = process.env.ALEXNET_WASM_THREADS): number {
  if (option !== undefined) return option;
  if (env !== undefined && env.trim() !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`ALEXNET_WASM_THREADS=${env} is not a thread count; use a whole number >= 1 (1 = single-threaded).`);
    return n;
  }
  return os.availableParallelism();
}

async function tryWasm(load: (pkg: string) => unknown, threads: number): Promise<Attempt> {
  try {
    load("@tensorflow/tfjs-backend-wasm");
  } catch (err) {
    return { reason: `@tensorflow/tfjs-backend-wasm failed to load: ${firstLine(err)}` };
  }
  // Threads can only be chosen before wasm's first initialisation in this process.
  const started = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry.wasm !== undefined;
  const plan = started ? { reason: "the wasm backend had already started in this process" } : planWasmThreads(threads);
  const attempt = "threads" in plan ? await withWasmThreads(plan, () => activate("wasm", [])) : await activate("wasm", []);
  if ("details" in attempt) {
    // wasm lacks the filter gradient and runs other gradients as scalar loops; see lib/engine/kernels.
    registerTrainingKernels("wasm");
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    const running = wasmThreadsCount();
    attempt.details.push(
      `SIMD ${simd ? "on" : "off"}`,
      running > 1 ? `${running} threads` : `single-threaded${"reason" in plan ? ` (${plan.reason})` : ""}`,
    );
  }
  return attempt;
}

async function tryEngine(
  engine: EngineName,
  opts: Required<Pick<SelectOptions, "load" | "gpus">> & { wasmThreads: number },
): Promise<Attempt> {
  switch (engine) {
    case "gpu":
    case "node":
      return tryNative(engine, opts);
    case "wasm":
      return tryWasm(opts.load, opts.wasmThreads);
    case "cpu": {
      const attempt = await activate("cpu", ["plain JavaScript kernels"]);
      if ("details" in attempt) registerTrainingKernels("cpu");
      return attempt;
    }
  }
}

let current: EngineReport | undefined;

/**
 * Picks and activates an engine: gpu, node, wasm, cpu, in that order, unless
 * ALEXNET_BACKEND (or `force`) names one. Idempotent: later calls return the
 * first report unless they force a different engine.
 */
export async function selectEngine(options: SelectOptions = {}): Promise<EngineReport> {
  const forceValue = options.force ?? process.env.ALEXNET_BACKEND;
  const forced =
    forceValue !== undefined && forceValue.trim() !== ""
      ? parseEngineName(forceValue, options.force !== undefined ? "force" : "ALEXNET_BACKEND")
      : undefined;
  if (current && (!forced || forced === current.engine) && !options.load && !options.gpus) return current;
  const opts = {
    load: options.load ?? defaultLoad,
    gpus: options.gpus ?? visibleGpus,
    wasmThreads: requestedWasmThreads(options.wasmThreads),
  };
  // tfjs prints an advert for tfjs-node when the cpu backend first runs; the report below says it better.
  tf.env().set("PROD", true);
  const skipped: SkippedEngine[] = [];
  const candidates = forced ? [forced] : [...ENGINES];
  for (const engine of candidates) {
    const attempt = await tryEngine(engine, opts);
    if ("details" in attempt) {
      current = {
        engine,
        backend: tf.getBackend(),
        forcedBy: forced ? (options.force !== undefined ? "option" : "ALEXNET_BACKEND") : undefined,
        skipped,
        tfjsVersion: tf.version.tfjs,
        details: attempt.details,
      };
      return current;
    }
    if (forced) throw new EngineUnavailableError(engine, attempt.reason);
    skipped.push({ engine, reason: attempt.reason });
  }
  throw new Error("no TensorFlow.js engine could start, not even 'cpu': reinstall dependencies with `npm ci`");
}

export function formatEngineReport(r: EngineReport): string {
  const how = r.forcedBy ? `forced by ${r.forcedBy === "ALEXNET_BACKEND" ? `ALEXNET_BACKEND=${r.engine}` : "option"}` : "best available";
  const lines = [
    `engine: ${r.engine} (${how}; TensorFlow.js ${r.tfjsVersion}, backend '${r.backend}'${r.details.length ? "; " + r.details.join(", ") : ""})`,
  ];
  for (const s of r.skipped) lines.push(`  skipped ${s.engine}: ${s.reason}`);
  return lines.join("\n");
}
