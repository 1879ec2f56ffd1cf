// Where one wasm training step's time goes: wall time per kernel (the course's
// training kernels in lib/engine/kernels/ and the stock ones inside and around
// them) for one SGD-momentum step of an AlexNet, as bench/train-step.ts times it.
// Each thread count runs in its own process (wasm's thread count is fixed once
// it starts). Writes bench/results/step-profile.json.
// Usage: npm run bench -- bench/step-profile.ts [--model torchvision] [--batch 32]
//        [--steps 2] [--threads 1,2] [--out step-profile]
import { spawnSync } from "node:child_process";
import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { firstLine, selectEngine } from "../lib/engine/select";
import { startKernelTimer, type KernelTime } from "../lib/engine/kernel-timer";
import { wasmThreadsCount } from "../lib/engine/wasm-threads";
import type { AlexNetVariant } from "../lib/model/alexnet";
import { benchTrainStep, median, option, writeResult } from "./common";

const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));

interface Profile {
  threads: number;
  stepMs: number[];
  kernelMs: number;
  outsideKernelsMs: number;
  kernels: (KernelTime & { share: number })[];
  loadAverage: number[];
}

async function profileHere(variant: AlexNetVariant, batch: number, steps: number): Promise<Profile> {
  await selectEngine({ force: "wasm" });
  const { step, dispose } = benchTrainStep(variant, batch);
  step(); // warm-up: XNNPACK operator caches, first allocations
  const timer = startKernelTimer("wasm", option("by-shape", "").split(",").filter(Boolean));
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    step();
    stepMs.push(performance.now() - t);
  }
  timer.stop();
  dispose();
  const total = stepMs.reduce((a, b) => a + b, 0);
  const kernels = timer.times().map((k) => ({
    ...k,
    calls: k.calls / steps,
    totalMs: k.totalMs / steps,
    selfMs: k.selfMs / steps,
    share: Number((k.selfMs / total).toFixed(4)),
  }));
  return {
    threads: wasmThreadsCount(),
    stepMs,
    kernelMs: timer.kernelMs() / steps,
    outsideKernelsMs: (total - timer.kernelMs()) / steps,
    kernels,
    loadAverage: load(),
  };
}

function print(p: Profile, top: number): void {
  console.log(
    `wasm ${p.threads} thread(s): step ${median(p.stepMs).toFixed(0)} ms (median of ${p.stepMs.length}), in kernels ${p.kernelMs.toFixed(0)} ms, outside ${p.outsideKernelsMs.toFixed(0)} ms; load ${p.loadAverage.join(" ")}`,
  );
  for (const k of p.kernels.slice(0, top)) {
    console.log(
      `  ${k.key.padEnd(70)} ${k.selfMs.toFixed(1).padStart(8)} ms self ${(100 * k.share).toFixed(1).padStart(5)}%  ${k.calls} calls, ${k.totalMs.toFixed(1)} ms total`,
    );
  }
}

async function main() {
  const variant = option("model", "torchvision") as AlexNetVariant;
  const batch = Number(option("batch", "32"));
  const steps = Number(option("steps", "2"));
  if (option("child", "") === "1") {
    console.log(JSON.stringify(await profileHere(variant, batch, steps)));
    return;
  }
  const threads = option("threads", "1,2").split(",").map(Number);
  const profiles: Profile[] = [];
  for (const t of threads) {
    const r = spawnSync(
      process.execPath,
      ["--require", "ts-node/register/transpile-only", __filename, ...process.argv.slice(2), "--child", "1"],
      {
        encoding: "utf8",
        env: { ...process.env, ALEXNET_WASM_THREADS: String(t) },
        maxBuffer: 1 << 26,
      },
    );
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (r.status !== 0 || !line) {
      console.log(`${t} thread(s): failed: ${firstLine(r.stderr || `exit ${r.status}`)}`);
      continue;
    }
    const p = JSON.parse(line) as Profile;
    profiles.push(p);
    print(p, 25);
  }
  const file = writeResult(option("out", "step-profile"), {
    model: variant,
    batch,
    steps,
    tfjsVersion: tf.version.tfjs,
    note: "selfMs: time in the kernel minus the kernels it called; 'A>B' is B called inside the outermost kernel A; share = selfMs / step",
    profiles,
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
