// The ceiling of each engine at AlexNet's shapes: GFLOP/s of wasm's own best
// convolution (XNNPACK, weights packed once and reused) and matrix multiply, at
// 1 thread and at every core, and PyTorch's conv2d and matmul at the same
// shapes on the same machine (bench/torch_ceiling.py), interleaved wasm, torch,
// wasm, torch so load drift touches both. Writes bench/results/ceiling.json.
// Usage: npm run bench -- bench/ceiling.ts [--batch 32] [--reps 3] [--rounds 2]
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { firstLine, selectEngine } from "../lib/engine/select";
import { wasmThreadsCount } from "../lib/engine/wasm-threads";
import { ceilingShapes, type CeilingShape } from "../lib/engine/flops";
import { findTorchPython, median, option, torchEnv, writeResult } from "./common";

const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));

interface Rate {
  shape: string;
  gflop: number;
  /** Best of the ways timed: median ms over reps. */
  ms: number;
  gflops: number;
  how: string;
}

function timeMs(reps: number, fn: () => void): number {
  fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

/**
 * Runs fn and reads its result, returning nothing from tidy: a typed array
 * returned from tf.tidy is walked element by element for tensors to keep,
 * which took seconds for a conv's output and once made wasm look 10x slower.
 */
function readOut(fn: () => tf.Tensor): void {
  tf.tidy(() => {
    fn().dataSync();
  });
}

function wasmRate(s: CeilingShape, reps: number): Rate {
  const ways: { how: string; ms: number }[] = [];
  if (s.kind === "conv") {
    const x = tf.randomNormal(s.x, 0, 1, "float32", 1) as tf.Tensor4D;
    const w = tf.randomNormal(s.w, 0, 0.1, "float32", 2) as tf.Tensor4D;
    // The same filter tensor each call: XNNPACK keeps its packed weights (the compute alone).
    ways.push({ how: "Conv2D, packed weights reused", ms: timeMs(reps, () => readOut(() => tf.conv2d(x, w, s.stride, s.pad))) });
    tf.dispose([x, w]);
  } else {
    const a = tf.randomNormal([s.m, s.k], 0, 1, "float32", 1);
    const b = tf.randomNormal([s.k, s.n], 0, 0.1, "float32", 2);
    ways.push({ how: "MatMul, packed weights reused", ms: timeMs(reps, () => readOut(() => tf.matMul(a, b))) });
    // The same product as a 1x1 convolution: XNNPACK's GEMM through the conv path.
    const a4 = a.reshape([1, s.m, 1, s.k]) as tf.Tensor4D;
    const b4 = b.reshape([1, 1, s.k, s.n]) as tf.Tensor4D;
    ways.push({
      how: "1x1 Conv2D, packed weights reused",
      ms: timeMs(reps, () => readOut(() => tf.conv2d(a4, b4, 1, "valid"))),
    });
    tf.dispose([a, b, a4, b4]);
  }
  const best = ways.reduce((p, q) => (q.ms < p.ms ? q : p));
  return {
    shape: s.name,
    gflop: s.gflop,
    ms: best.ms,
    gflops: s.gflop / (best.ms / 1000),
    how: ways.map((w) => `${w.how} ${w.ms.toFixed(1)} ms`).join("; "),
  };
}

interface Side {
  engine: string;
  threads: number;
  rates: Rate[];
  loadAverage: number[];
}

async function wasmChild(batch: number, reps: number): Promise<Side> {
  await selectEngine({ force: "wasm" });
  const rates = ceilingShapes(batch).map((s) => wasmRate(s, reps));
  return { engine: "wasm", threads: wasmThreadsCount(), rates, loadAverage: load() };
}

function runChild(threads: number, args: string[]): Side | { error: string } {
  const r = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", __filename, ...args, "--child", "1"], {
    encoding: "utf8",
    env: { ...process.env, ALEXNET_WASM_THREADS: String(threads) },
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (r.status !== 0 || !line) return { error: firstLine(r.stderr || `exit ${r.status}`) };
  return JSON.parse(line) as Side;
}

function runTorch(threads: number, batch: number, reps: number): Side | { error: string } {
  const python = findTorchPython();
  if (!python) return { error: "PyTorch is not installed" };
  const r = spawnSync(
    python,
    [path.join(__dirname, "torch_ceiling.py"), "--threads", String(threads), "--batch", String(batch), "--reps", String(reps)],
    { encoding: "utf8", env: torchEnv().env },
  );
  if (r.status !== 0) return { error: firstLine(r.stderr || `exit ${r.status}`) };
  return { ...(JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Side), loadAverage: load() };
}

function print(s: Side | { error: string }): void {
  if ("error" in s) return void console.log(`failed: ${s.error}`);
  console.log(`${s.engine} ${s.threads} thread(s), load ${s.loadAverage.join(" ")}`);
  for (const r of s.rates)
    console.log(`  ${r.shape.padEnd(34)} ${r.gflops.toFixed(1).padStart(6)} GFLOP/s  (${r.ms.toFixed(1)} ms; ${r.how})`);
}

async function main() {
  const batch = Number(option("batch", "32"));
  const reps = Number(option("reps", "3"));
  if (option("child", "") === "1") {
    console.log(JSON.stringify(await wasmChild(batch, reps)));
    return;
  }
  const rounds = Number(option("rounds", "2"));
  const threadCounts = [...new Set([1, os.availableParallelism()])];
  const runs: (Side | { error: string })[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const t of threadCounts) {
      for (const side of [runChild(t, ["--batch", String(batch), "--reps", String(reps)]), runTorch(t, batch, reps)]) {
        runs.push(side);
        print(side);
      }
    }
  }
  const file = writeResult(option("out", "ceiling"), {
    batch,
    reps,
    rounds,
    tfjsVersion: tf.version.tfjs,
    note: "per shape, the best of the ways listed; GFLOP counts a multiply-add as 2; wasm and torch alternate within each round",
    runs,
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
