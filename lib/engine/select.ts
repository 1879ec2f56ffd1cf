// Chooses the fastest TensorFlow.js engine this machine can run, and says why
// the faster ones were passed over. Every import of a native package is guarded:
// a missing or broken optional package must never crash a notebook.
import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { storageBindingLimit } from "./device-limits";
import { visibleGpus } from "./gpu";
import { missingTrainingKernels, registerTrainingKernels } from "./kernels/index";
import { planWasmThreads, wasmThreadsCount, withWasmThreads } from "./wasm-threads";
import { adapterDetails, adapterName, provideNavigatorGpu, softwareAdapterReason, type DawnModule } from "./webgpu-adapter";

export const ENGINES = ["cuda", "webgpu", "node", "wasm", "cpu"] as const;
export type EngineName = (typeof ENGINES)[number];

/** Older names still accepted by ALEXNET_BACKEND and `force`: the CUDA engine was called "gpu" before webgpu existed. */
export const ENGINE_ALIASES: Record<string, EngineName> = { gpu: "cuda" };

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
  cuda: "install it with `npm install @tensorflow/tfjs-node-gpu` on Linux x64 with CUDA 11.2 and cuDNN 8.1 (README: GPU set-up)",
  webgpu:
    "it needs the optional packages `webgpu` and `@tensorflow/tfjs-backend-webgpu` (`npm ci` installs them) and a Vulkan, Metal or D3D12 driver; without a GPU, Mesa 25's lavapipe gives a software adapter (README: GPU set-up)",
  node: "install it with `npm install @tensorflow/tfjs-node` (its install script downloads libtensorflow, so it needs network access to that host)",
  wasm: "reinstall dependencies with `npm ci` (@tensorflow/tfjs-backend-wasm is a regular dependency)",
  cpu: "reinstall dependencies with `npm ci`",
};

const PACKAGE: Record<"cuda" | "node", string> = {
  cuda: "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
};

export class EngineUnavailableError extends Error {
  constructor(
    readonly engine: EngineName,
    readonly reason: string,
    /** The name as given, when it was an alias ("gpu" for cuda). */
    requested: string = engine,
  ) {
    const name = requested === engine ? engine : `${requested} (the ${engine} engine)`;
    super(`ALEXNET_BACKEND=${name} was requested but that engine is unavailable: ${reason}; ${INSTALL_HINT[engine]}.`);
    this.name = "EngineUnavailableError";
  }
}

export function parseEngineName(value: string, source = "ALEXNET_BACKEND"): EngineName {
  const v = value.trim().toLowerCase();
  if ((ENGINES as readonly string[]).includes(v)) return v as EngineName;
  if (Object.hasOwn(ENGINE_ALIASES, v)) return ENGINE_ALIASES[v];
  throw new Error(`${source}=${value} is not an engine; use one of ${ENGINES.join(", ")} (gpu = cuda).`);
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

async function tryNative(engine: "cuda" | "node", opts: Required<Pick<SelectOptions, "load" | "gpus">>): Promise<Attempt> {
  let gpuNames: string[] = [];
  if (engine === "cuda") {
    // Check for a GPU before loading the package: tfjs-node-gpu silently runs on the CPU when none is visible.
    gpuNames = opts.gpus();
    if (gpuNames.length === 0) return { reason: "no CUDA GPU visible (nvidia-smi lists none, or CUDA_VISIBLE_DEVICES hides them)" };
  }
  try {
    opts.load(PACKAGE[engine]);
  } catch (err) {
    return { reason: loadFailure(PACKAGE[engine], err) };
  }
  return activate("tensorflow", engine === "cuda" ? gpuNames.map((g) => `GPU: ${g}`) : ["native TensorFlow on the CPU"]);
}

function loadFailure(pkg: string, err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === "MODULE_NOT_FOUND" && firstLine(err).includes(`'${pkg}'`)) return `${pkg} is not installed`;
  return `${pkg} failed to load: ${firstLine(err)}`;
}

/**
 * webgpu: Dawn's binding provides navigator.gpu, then tfjs-backend-webgpu runs on
 * the adapter it finds. A software adapter is only used when forced.
 */
async function tryWebgpu(load: (pkg: string) => unknown, forced: boolean): Promise<Attempt> {
  let dawn: DawnModule;
  try {
    dawn = load("webgpu") as DawnModule;
    if (typeof dawn?.create !== "function") return { reason: "the webgpu package has no create(): not Dawn's binding" };
  } catch (err) {
    return { reason: loadFailure("webgpu", err) };
  }
  let adapter;
  try {
    adapter = await provideNavigatorGpu(dawn).requestAdapter({ powerPreference: "high-performance" });
  } catch (err) {
    return { reason: `no WebGPU adapter: ${firstLine(err)}` };
  }
  if (!adapter) return { reason: "no WebGPU adapter (Dawn found no usable Vulkan, Metal or D3D12 device)" };
  const software = softwareAdapterReason(adapter);
  if (software && !forced) {
    return {
      reason: `only a software adapter (${adapterName(adapter)}; ${software}), slower than wasm; ALEXNET_BACKEND=webgpu forces it`,
    };
  }
  try {
    load("@tensorflow/tfjs-backend-webgpu");
  } catch (err) {
    return { reason: loadFailure("@tensorflow/tfjs-backend-webgpu", err) };
  }
  if (!tf.findBackendFactory("webgpu")) {
    return { reason: "@tensorflow/tfjs-backend-webgpu loaded before navigator.gpu existed, so it registered no backend" };
  }
  const attempt = await activate("webgpu", [...adapterDetails(adapter), ...(software ? ["software rendering"] : [])]);
  if ("details" in attempt) {
    // tfjs-backend-webgpu 4.22 has every training kernel the course uses; the course's own are JavaScript and would need readSync.
    const missing = missingTrainingKernels("webgpu");
    if (missing.length > 0) attempt.details.push(`lacks training kernels: ${missing.join(", ")}`);
    const limit = storageBindingLimit();
    if (limit !== undefined) attempt.details.push(`largest storage binding: ${Math.round(limit / 2 ** 20)} MiB`);
  }
  return attempt;
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
  opts: Required<Pick<SelectOptions, "load" | "gpus">> & { wasmThreads: number; forced: boolean },
): Promise<Attempt> {
  switch (engine) {
    case "cuda":
    case "node":
      return tryNative(engine, opts);
    case "webgpu":
      return tryWebgpu(opts.load, opts.forced);
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
 * Picks and activates an engine: cuda, webgpu (on a hardware adapter), node,
 * wasm, cpu, in that order, unless ALEXNET_BACKEND (or `force`) names one
 * ("gpu" is an alias of cuda). Idempotent: later calls return the
 * first report unless they force a different engine or another backend has
 * been made active since (then the engine is selected again).
 */
export async function selectEngine(options: SelectOptions = {}): Promise<EngineReport> {
  const forceValue = options.force ?? process.env.ALEXNET_BACKEND;
  const forced =
    forceValue !== undefined && forceValue.trim() !== ""
      ? parseEngineName(forceValue, options.force !== undefined ? "force" : "ALEXNET_BACKEND")
      : undefined;
  // The report is reused only while its backend is still the active one: a cell may have called tf.setBackend itself.
  if (current && (!forced || forced === current.engine) && !options.load && !options.gpus && tf.getBackend() === current.backend)
    return current;
  const opts = {
    load: options.load ?? defaultLoad,
    gpus: options.gpus ?? visibleGpus,
    wasmThreads: requestedWasmThreads(options.wasmThreads),
    forced: forced !== undefined,
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
    if (forced) throw new EngineUnavailableError(engine, attempt.reason, forceValue!.trim().toLowerCase());
    skipped.push({ engine, reason: attempt.reason });
  }
  throw new Error("no TensorFlow.js engine could start, not even 'cpu': reinstall dependencies with `npm ci`");
}

/** Makes `report`'s engine the active one again, with that report (after another engine was selected for a while). */
export async function restoreEngine(report: EngineReport): Promise<void> {
  if (!(await tf.setBackend(report.backend))) throw new Error(`restoreEngine: backend '${report.backend}' did not start again`);
  current = report;
}

export function formatEngineReport(r: EngineReport): string {
  const how = r.forcedBy ? `forced by ${r.forcedBy === "ALEXNET_BACKEND" ? `ALEXNET_BACKEND=${r.engine}` : "option"}` : "best available";
  const lines = [
    `engine: ${r.engine} (${how}; TensorFlow.js ${r.tfjsVersion}, backend '${r.backend}'${r.details.length ? "; " + r.details.join(", ") : ""})`,
  ];
  for (const s of r.skipped) lines.push(`  skipped ${s.engine}: ${s.reason}`);
  return lines.join("\n");
}
