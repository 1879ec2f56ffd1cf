// What fraction of its engine's ceiling one AlexNet training step reaches, from
// the committed bench/results/ceiling.json and train-step.json: the step's flops
// (lib/engine/flops.ts, from the layer shapes) at each layer's measured forward
// rate, over the measured step. Rounds are paired by engine and thread count
// (ceiling medians over its rounds). Writes bench/results/ceiling-fraction.json.
// Usage: npm run bench -- bench/ceiling-fraction.ts
import { committedResult } from "../lib/eval/results";
import { ceilingStepSeconds, stepFlops } from "../lib/engine/flops";
import { median, option, writeResult } from "./common";

interface Rates {
  engine: string;
  threads: number;
  rates: { shape: string; gflops: number }[];
  error?: string;
}

function main(): void {
  const ceiling = committedResult<{ runs: Rates[] }>("ceiling");
  const step = committedResult<{ trainBatch: number; tfjs: Record<string, unknown>[]; torch: Record<string, unknown>[] }>("train-step");
  if (!ceiling || !step) throw new Error("run bench/ceiling.ts and bench/train-step.ts first: their results are missing");
  const batch = step.result.trainBatch;
  const layers = stepFlops("torchvision");
  const gflop = (layers.reduce((s, l) => s + l.trainFlops, 0) * batch) / 1e9;
  const atCeiling = (engine: string, threads: number) => {
    const secs = ceiling.result.runs
      .filter((r) => !r.error && r.threads === threads && r.engine.startsWith(engine))
      .map((r) => ceilingStepSeconds(layers, batch, r.rates))
      .filter((s): s is number => s !== undefined);
    return secs.length ? median(secs) : undefined;
  };
  const rows: Record<string, unknown>[] = [];
  const add = (engine: string, threads: number, round: unknown, seconds: number, load: unknown) => {
    const c = atCeiling(engine, threads);
    const row = {
      engine,
      threads,
      round,
      stepSeconds: seconds,
      gflops: gflop / seconds,
      ceilingStepSeconds: c,
      fraction: c ? c / seconds : undefined,
      load,
    };
    rows.push(row);
    console.log(
      `${engine} ${threads} thread(s), round ${Number(round) + 1}: step ${seconds.toFixed(2)} s = ${(gflop / seconds).toFixed(1)} GFLOP/s; at its ceiling ${c?.toFixed(2)} s: fraction ${row.fraction?.toFixed(2)} (load ${load})`,
    );
  };
  for (const run of step.result.tfjs) {
    const m = (run.models as { model: string; train: { seconds: number[]; loadAverage: number[] } }[]).find(
      (e) => e.model === "torchvision",
    );
    if (m) add("wasm", run.threads as number, run.round, median(m.train.seconds), m.train.loadAverage[0]);
  }
  for (const t of step.result.torch) {
    if (t.error) continue;
    add("PyTorch", t.threads as number, t.round, median(t.trainStepSeconds as number[]), (t.loadAverage as number[])[0]);
  }
  const file = writeResult(option("out", "ceiling-fraction"), {
    model: "torchvision",
    batch,
    stepGflop: gflop,
    note: "ceilingStepSeconds: each layer's forward + backward flops at its forward shape's measured rate (median over ceiling.json's rounds); fraction = ceilingStepSeconds / stepSeconds",
    sources: { ceiling: ceiling.date, trainStep: step.date },
    rows,
  });
  console.log(`wrote ${file}`);
}

main();
