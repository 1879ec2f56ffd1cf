// Shared by the benchmarks: where results go, what machine made them, and the training step they time.

import { spawnSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs";
import { type AlexNetVariant, buildAlexNet } from "../lib/model/alexnet";

export { machineInfo, writeResult } from "../lib/eval/results";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The value after --name on the command line, or `fallback`. */
export function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** The first Python that imports torch: PATH's python3, then Debian's (python3-torch installs there). */
export function findTorchPython(): string | undefined {
  for (const py of ["python3", "/usr/bin/python3"]) {
    const r = spawnSync(py, ["-c", "import torch"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * The environment for a PyTorch child: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
 * removed, since some machines set them to values that slow a current OpenBLAS
 * and the anchor is PyTorch at its best on this machine. Returns what was removed.
 */
export function torchEnv(env: NodeJS.ProcessEnv = process.env): { env: NodeJS.ProcessEnv; unset: Record<string, string> } {
  const out = { ...env };
  const unset: Record<string, string> = {};
  for (const k of ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]) {
    if (out[k] !== undefined) unset[k] = out[k]!;
    delete out[k];
  }
  return { env: out, unset };
}

/** lscpu's model name and the SIMD flags that bound each engine (wasm SIMD128 maps onto SSE/AVX; PyTorch uses AVX2/AVX-512, FMA). */
export function cpuSummary(): { model?: string; simd: string[] } {
  const r = spawnSync("lscpu", [], { encoding: "utf8" });
  const field = (name: string) =>
    r.stdout
      ?.split("\n")
      .find((l) => l.startsWith(`${name}:`))
      ?.split(":")[1]
      ?.trim();
  const flags = (field("Flags") ?? "").split(/\s+/).filter((f) => /^(sse|ssse|avx|fma|f16c)/.test(f));
  return { model: field("Model name"), simd: flags };
}

/** 224x224 and 1000 classes, except `mini`: the laptop profile's model, 128x128 and the embedded set's 10 classes. */
export function shapeOf(variant: AlexNetVariant): { size: number; classes: number } {
  return variant === "mini" ? { size: 128, classes: 10 } : { size: 224, classes: 1000 };
}

/**
 * One SGD-momentum step (lr 0.01, momentum 0.9) of `variant` on a fixed batch of
 * seeded noise, as train-step.ts times it and step-profile.ts profiles it; the
 * step is done when its loss has been read. dispose() frees the model and batch.
 */
export function benchTrainStep(variant: AlexNetVariant, batch: number): { step: () => void; dispose: () => void } {
  const { size, classes } = shapeOf(variant);
  const model = buildAlexNet(variant, { inputSize: size, numClasses: classes, seed: 1 });
  const optimizer = tf.train.momentum(0.01, 0.9);
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, "float32", 7);
  const labels = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => (i * 37) % classes),
    "int32",
  );
  const y = tf.oneHot(labels, classes);
  labels.dispose();
  const step = () =>
    tf.tidy(() => {
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        true,
      );
      loss?.dataSync(); // the step is done when its loss is readable (async backends)
    });
  const dispose = () => {
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  };
  return { step, dispose };
}
