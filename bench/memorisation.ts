// The memorisation check at laptop size: the laptop recipe (network, optimiser,
// crops, reflections, lighting) on the first 30 embedded images of each class,
// then the error on those same images, centre crops with dropout off. Any
// AlexNet must bring a few hundred images near zero; notebook 08 reads this file.
// Writes bench/results/memorisation.json.
// Usage: npm run bench -- bench/memorisation.ts [--per-class 30] [--epochs 60] [--seed 1]
import os from "node:os";
import path from "node:path";
import { rmSync } from "node:fs";
import { selectEngine } from "../lib/engine/select";
import { memorisationCheck } from "../lib/train/memorisation";
import { option, writeResult } from "./common";

async function main(): Promise<void> {
  const engine = await selectEngine();
  const perClass = Number(option("per-class", "30"));
  const epochs = Number(option("epochs", "60"));
  const seed = Number(option("seed", "1"));
  const runDir = path.join(process.cwd(), "runs", "bench", "memorisation");
  rmSync(runDir, { recursive: true, force: true });
  const loadBefore = os.loadavg();
  const r = await memorisationCheck({ runDir, profile: "laptop", perClass, epochs, seed, progress: "lines" });
  console.log(
    `${r.images} images, ${r.epochs} epochs: training error ${(100 * r.trainError).toFixed(1)}% (centre crops, dropout off), top-5 ${(100 * r.trainTop5Error).toFixed(1)}%; ${r.seconds.toFixed(0)} s`,
  );
  const file = writeResult("memorisation", {
    engine: { engine: engine.engine, backend: engine.backend, details: engine.details },
    profile: "laptop",
    seed,
    images: r.images,
    classes: r.classes,
    epochs: r.epochs,
    trainError: r.trainError,
    trainTop5Error: r.trainTop5Error,
    seconds: r.seconds,
    loadAverage: { before: loadBefore.map((l) => Number(l.toFixed(2))), after: os.loadavg().map((l) => Number(l.toFixed(2))) },
    recipe: r.config,
    history: r.history.map((m) => ({ epoch: m.epoch, lr: m.lr, trainLoss: m.trainLoss, trainTop1Error: m.trainTop1Error })),
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
