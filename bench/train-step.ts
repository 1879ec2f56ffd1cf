// Images per second of one AlexNet training step (forward, backward,
// SGD-momentum update) at 224x224, and of inference, on every TensorFlow.js
// backend available here (wasm on 1 thread and on every core, each in its own
// process); and, where PyTorch is installed, of torchvision's AlexNet in
// PyTorch on the same machine, in the same run, on the same thread counts.
// Writes bench/results/train-step.json.
// Usage: npm run bench -- bench/train-step.ts [--batch 32] [--infer-batch 8]
//        [--steps 3] [--backends node,wasm,cpu] [--models torchvision,paper] [--cpu-steps 1]
//        [--out train-step]   (--models mini times the laptop profile's model at 128x128)
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type EngineName, firstLine, parseEngineName, selectEngine } from "../lib/engine/select";
import { wasmThreadsCount } from "../lib/engine/wasm-threads";
import { type AlexNetVariant, buildAlexNet } from "../lib/model/alexnet";
import { benchTrainStep, cpuSummary, findTorchPython, median, option, shapeOf, torchEnv, writeResult } from "./common";

const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));

interface Timing {
  seconds: number[];
  imagesPerSecond: number;
  loadAverage: number[];
}

function timeIt(times: number, batch: number, fn: () => void): Timing {
  const seconds: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    fn();
    seconds.push((performance.now() - t) / 1000);
  }
  return { seconds, imagesPerSecond: batch / median(seconds), loadAverage: load() };
}

function trainStep(variant: AlexNetVariant, batch: number, warmups: number, steps: number): Timing {
  const { step, dispose } = benchTrainStep(variant, batch);
  for (let i = 0; i < warmups; i++) step();
  const timing = timeIt(steps, batch, step);
  dispose();
  return timing;
}

function inference(variant: AlexNetVariant, batch: number, warmups: number, runs: number): Timing {
  const { size, classes } = shapeOf(variant);
  const model = buildAlexNet(variant, { inputSize: size, numClasses: classes, seed: 1 });
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, "float32", 8);
  // A block body: a typed array returned from tf.tidy is walked element by element (bench/ceiling.ts).
  const run = () =>
    tf.tidy(() => {
      (model.predict(x) as tf.Tensor).dataSync();
    });
  for (let i = 0; i < warmups; i++) run();
  const timing = timeIt(runs, batch, run);
  model.dispose();
  x.dispose();
  return timing;
}

interface TorchResult {
  framework: string;
  threads: number;
  trainImagesPerSecond: number;
  inferImagesPerSecond: number;
  [k: string]: unknown;
}

function runTorch(python: string, threads: number, batch: number, inferBatch: number, steps: number): TorchResult | { error: string } {
  const script = path.join(__dirname, "torch_alexnet.py");
  const r = spawnSync(
    python,
    [script, "--threads", String(threads), "--batch", String(batch), "--infer-batch", String(inferBatch), "--steps", String(steps)],
    // The anchor is PyTorch at its best here: without the OpenBLAS overrides some machines set.
    { encoding: "utf8", env: torchEnv().env },
  );
  if (r.status !== 0) return { error: firstLine(r.stderr || r.error || `exit ${r.status}`) };
  return { ...(JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as TorchResult), loadAverage: load() };
}

interface EngineRun {
  engine: EngineName;
  backend?: string;
  threads: number;
  details?: string[];
  models: Record<string, unknown>[];
  skipped?: string;
}

/** Measures one engine at one thread count, in this (fresh) process. */
async function measureEngine(
  engine: EngineName,
  batch: number,
  inferBatch: number,
  steps: number,
  cpuSteps: number,
  models: AlexNetVariant[],
): Promise<EngineRun> {
  let details: string[];
  try {
    details = (await selectEngine({ force: engine })).details;
  } catch (err) {
    return { engine, threads: 0, models: [], skipped: firstLine(err) };
  }
  const threads = engine === "wasm" ? wasmThreadsCount() : engine === "cpu" ? 1 : os.availableParallelism();
  // The plain-JS cpu backend needs minutes per step at 224: time one step, no warm-up, unless asked.
  const [warm, n] = engine === "cpu" ? [0, cpuSteps] : [1, steps];
  const results: Record<string, unknown>[] = [];
  for (const variant of models) {
    const train = trainStep(variant, batch, warm, n);
    const infer = inference(variant, inferBatch, 1, Math.max(n, 5));
    results.push({ model: variant, train, infer });
  }
  return { engine, backend: tf.getBackend(), threads, details, models: results };
}

/** Runs measureEngine in a child process: wasm's thread count is fixed once it starts, and memory starts clean. */
function spawnMeasure(engine: EngineName, threads: number, args: string[]): EngineRun {
  const r = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", __filename, "--child", engine, ...args], {
    encoding: "utf8",
    env: { ...process.env, ALEXNET_WASM_THREADS: String(threads) },
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith('{"engine"'));
  if (r.status !== 0 || !line)
    return { engine, threads, models: [], skipped: `measurement failed: ${firstLine(r.stderr || `exit ${r.status}`)}` };
  return JSON.parse(line) as EngineRun;
}

interface Ratio {
  round: number;
  engine: string;
  threads: number;
  train: number;
  infer: number;
}

/** Median and range of the per-round ratios at each thread count. */
function summariseRatios(ratios: Ratio[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const threads of [...new Set(ratios.map((r) => r.threads))]) {
    const at = ratios.filter((r) => r.threads === threads);
    const stat = (xs: number[]) => ({
      median: Number(median(xs).toFixed(3)),
      min: Number(Math.min(...xs).toFixed(3)),
      max: Number(Math.max(...xs).toFixed(3)),
    });
    out.push({
      engine: at[0].engine,
      threads,
      rounds: at.length,
      train: stat(at.map((r) => r.train)),
      infer: stat(at.map((r) => r.infer)),
    });
  }
  return out;
}

function printRun(run: EngineRun, batch: number, inferBatch: number): void {
  if (run.skipped) return void console.log(`${run.engine}: skipped (${run.skipped})`);
  for (const m of run.models) {
    const train = m.train as Timing;
    const infer = m.infer as Timing;
    console.log(
      `${run.engine} (${run.threads} thread${run.threads > 1 ? "s" : ""}) ${m.model}: train ${train.imagesPerSecond.toFixed(2)} img/s (batch ${batch}), inference ${infer.imagesPerSecond.toFixed(2)} img/s (batch ${inferBatch}); load ${train.loadAverage[0]}`,
    );
  }
}

async function main() {
  const batch = Number(option("batch", "32"));
  const inferBatch = Number(option("infer-batch", "8"));
  const steps = Number(option("steps", "3"));
  const cpuSteps = Number(option("cpu-steps", "1"));
  const rounds = Number(option("rounds", "2"));
  const models = option("models", "torchvision,paper").split(",") as AlexNetVariant[];
  const child = option("child", "");
  if (child !== "") {
    console.log(JSON.stringify(await measureEngine(parseEngineName(child, "--child"), batch, inferBatch, steps, cpuSteps, models)));
    return;
  }
  const backends = option("backends", "node,wasm,cpu")
    .split(",")
    .map((b) => parseEngineName(b, "--backends"));
  const cores = os.availableParallelism();
  const threadCounts = [...new Set([1, cores])];
  const passArgs = [
    "--batch",
    String(batch),
    "--infer-batch",
    String(inferBatch),
    "--steps",
    String(steps),
    "--cpu-steps",
    String(cpuSteps),
    "--models",
    models.join(","),
  ];
  const python = findTorchPython();
  if (!python) console.log("PyTorch: not installed (Debian: apt-get install python3-torch libopenblas0-pthread); no ratios");

  // A, B, A, B: each tfjs measurement is followed by PyTorch's at the same thread count, round after
  // round, so a change in the machine's load touches both sides of a ratio alike.
  const tfjs: (EngineRun & { round: number })[] = [];
  const torch: ((TorchResult | { error: string }) & { round: number })[] = [];
  const ratios: Ratio[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const threads of threadCounts) {
      for (const engine of backends) {
        if (engine !== "wasm" && (threads !== 1 || round > 0)) continue; // other engines: once, not a thread count
        const run = { ...spawnMeasure(engine, threads, passArgs), round };
        tfjs.push(run);
        printRun(run, batch, inferBatch);
      }
      if (!python) continue;
      const t = { ...runTorch(python, threads, batch, inferBatch, steps), round };
      torch.push(t);
      if ("error" in t) {
        console.log(`PyTorch (${threads} threads): failed: ${t.error}`);
        continue;
      }
      console.log(
        `${t.framework} torchvision (${t.threads} threads): train ${t.trainImagesPerSecond.toFixed(2)} img/s, inference ${t.inferImagesPerSecond.toFixed(2)} img/s; load ${((t as Record<string, unknown>).loadAverage as number[])[0]}`,
      );
      // tfjs's torchvision AlexNet over PyTorch's, measured next to each other.
      for (const run of tfjs.filter((r) => !r.skipped && r.round === round && r.threads === t.threads)) {
        const m = run.models.find((e) => e.model === "torchvision");
        if (!m) continue;
        const train = (m.train as Timing).imagesPerSecond / t.trainImagesPerSecond;
        const infer = (m.infer as Timing).imagesPerSecond / t.inferImagesPerSecond;
        ratios.push({ round, engine: run.engine, threads: t.threads, train: Number(train.toFixed(3)), infer: Number(infer.toFixed(3)) });
        console.log(
          `ratio ${run.engine} / PyTorch at ${t.threads} thread(s), round ${round + 1}: train ${train.toFixed(2)}, inference ${infer.toFixed(2)}`,
        );
      }
    }
  }
  const summary = summariseRatios(ratios);
  for (const r of summary) console.log(`median ratio over rounds: ${JSON.stringify(r)}`);

  const name = option("out", "train-step");
  const file = writeResult(name, {
    input: models.includes("mini") ? "224x224x3; mini: 128x128x3, 10 classes" : "224x224x3",
    trainBatch: batch,
    inferBatch,
    rounds,
    optimizer: "SGD momentum 0.9, lr 0.01",
    tfjsVersion: tf.version.tfjs,
    cpu: cpuSummary(),
    torchEnvUnset: python ? torchEnv().unset : undefined,
    tfjs,
    torch,
    ratios,
    ratioSummary: summary,
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
