// Runs tfjs's multi-threaded wasm build in Node, where tfjs switches it off
// (tensorflow/tfjs#3830). The build itself supports Node (emscripten pthreads on
// worker_threads); three browser assumptions in how tfjs starts it do not hold:
// 1. it hands emscripten the worker script and the main script as Blob URLs,
//    which Node's Worker and the worker's importScripts cannot open: we write
//    the worker script to a temporary file and point it at the package's own
//    main script file;
// 2. its C++ init caps the thread pool at half the logical cores (it assumes
//    2 hyper-threads per core), so a 2-core machine gets 1 thread: during init
//    we report the cores the caller asked to use, times 2;
// 3. the WASM_HAS_MULTITHREAD_SUPPORT flag is false under Node: we set it.
// Both patches of globals last only while the backend initialises, and the
// pool's workers are unref'd so that a script still exits when it is done. XNNPACK
// splits outputs between threads, never a sum, so results are bit-identical to
// a single-threaded run (test/engine/wasm-threads.test.ts checks it).
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomicSync } from "../files";

const WORKER = "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
const MAIN = "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js";
// In the worker: how it loads the main script when handed a Blob.
const BLOB_IMPORT = "var objectUrl=URL.createObjectURL(e.data.urlOrBlob);";

export type WasmThreadsPlan = { threads: number; workerFile: string; mainFile: string } | { reason: string };

/** Prepares the files for `threads` wasm threads; a `reason` says why it cannot. */
export function planWasmThreads(threads: number, resolve: (id: string) => string = require.resolve): WasmThreadsPlan {
  if (!Number.isInteger(threads) || threads < 1) return { reason: `wasm threads must be a whole number >= 1, got ${threads}` };
  if (threads === 1) return { reason: "1 thread requested: the single-threaded build is used" };
  if (typeof SharedArrayBuffer === "undefined") return { reason: "this Node.js has no SharedArrayBuffer" };
  let source: string;
  let mainFile: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    source = (require(resolve(WORKER)) as { wasmWorkerContents: string }).wasmWorkerContents;
    mainFile = resolve(MAIN);
  } catch (err) {
    return { reason: `the threaded wasm build is missing from @tensorflow/tfjs-backend-wasm (${(err as Error).message.split("\n")[0]})` };
  }
  if (typeof source !== "string" || !source.includes(BLOB_IMPORT)) {
    return { reason: `this @tensorflow/tfjs-backend-wasm's worker script is not the one this patch knows (tfjs ${tf.version.tfjs})` };
  }
  try {
    // tfjs escapes newlines the same way before making its Blob: the script sits in a template literal.
    const script = source.replace(/\n/g, "\\n").replace(BLOB_IMPORT, `var objectUrl=${JSON.stringify(mainFile)};`);
    // One folder per script content, reused: a per-process folder removed at exit
    // would pile up whenever a kernel is killed (no exit handler runs on SIGKILL).
    const hash = createHash("sha256").update(script).digest("hex").slice(0, 16);
    let dir = path.join(os.tmpdir(), `alexnet-wasm-threads-${os.userInfo().uid}-${hash}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // /tmp is shared: run only a script from a folder this user owns and nobody else can write to.
    if (!privateFolder(dir)) dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-wasm-threads-"));
    const workerFile = path.join(dir, "worker.js");
    if (!existsSync(workerFile) || readFileSync(workerFile, "utf8") !== script) {
      writeFileAtomicSync(workerFile, script, { mode: 0o600 });
    }
    return { threads, workerFile, mainFile };
  } catch (err) {
    return { reason: `cannot write the wasm worker script to ${os.tmpdir()} (${(err as Error).message.split("\n")[0]})` };
  }
}

/** A real folder (not a link), owned by this user, writable by no one else. */
function privateFolder(dir: string): boolean {
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

/**
 * Runs `init` (which must be the first initialisation of the wasm backend) with
 * the threaded build and `plan.threads` threads; returns what init returns.
 */
export async function withWasmThreads<T>(
  plan: { threads: number; workerFile: string; mainFile: string },
  init: () => Promise<T>,
): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require("@tensorflow/tfjs-backend-wasm") as { setThreadsCount(n: number): void };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  wasm.setThreadsCount(plan.threads);
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (blob: Blob) => (blob.type === "application/javascript" ? plan.workerFile : plan.mainFile);
  os.cpus = () => Array.from({ length: 2 * plan.threads }, (_, i) => cpus()[i % Math.max(1, cpus().length)]);
  try {
    const result = await init();
    releaseWorkers();
    return result;
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}

interface PThreadWorker {
  ref(): void;
  unref(): void;
}

/**
 * Emscripten refs a Node worker while it runs a pthread, and the thread pool's
 * pthreads run forever: the process would never exit. The main thread waits
 * for them synchronously inside each op, so they need not hold the event loop.
 */
function releaseWorkers(): void {
  const backend = tf.findBackend("wasm") as unknown as {
    wasm?: { PThread?: { unusedWorkers: PThreadWorker[]; runningWorkers: PThreadWorker[] } };
  } | null;
  const pthread = backend?.wasm?.PThread;
  if (!pthread) return;
  for (const worker of [...pthread.unusedWorkers, ...pthread.runningWorkers]) {
    worker.unref();
    // A worker still loading refs itself when its pthread starts; keep that from pinning the process.
    worker.ref = () => undefined;
  }
}

/** Threads in wasm's pool once the backend runs (1 for the single-threaded build). */
export function wasmThreadsCount(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require("@tensorflow/tfjs-backend-wasm") as { getThreadsCount(): number };
  return tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? wasm.getThreadsCount() : 1;
}
