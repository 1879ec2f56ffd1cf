// Offline transfer at laptop size (notebook 10's experiment, lib/train/transfer.ts):
// pre-train on five embedded classes, fine-tune on the other five from 20 images
// per class, frozen or slow features against scratch, three seeds.
// Writes bench/results/transfer.json.
// Usage: npm run bench -- bench/transfer.ts
import os from "node:os";
import path from "node:path";
import { rmSync } from "node:fs";
import { selectEngine } from "../lib/engine/select";
import { TRANSFER_SETTINGS, transferExperiment } from "../lib/train/transfer";
import { writeResult } from "./common";

async function main(): Promise<void> {
  const engine = await selectEngine();
  const workDir = path.join(process.cwd(), "runs", "bench", "transfer");
  rmSync(workDir, { recursive: true, force: true });
  const t0 = performance.now();
  const r = await transferExperiment({
    workDir,
    profile: "laptop",
    ...TRANSFER_SETTINGS.laptop,
    progress: "lines",
    onRun: (what) => console.log(what),
  });
  for (const s of r.summary)
    console.log(`${s.mode}: val top-1 ${(100 * s.meanValTop1Error).toFixed(1)}% (sd ${(100 * s.sdValTop1Error).toFixed(1)})`);
  for (const g of r.gaps)
    console.log(
      `${g.mode} - scratch: ${(100 * g.mean).toFixed(1)} points better (95% interval ${(100 * g.low).toFixed(1)} to ${(100 * g.high).toFixed(1)})`,
    );
  const file = writeResult("transfer", {
    engine: { engine: engine.engine, backend: engine.backend, details: engine.details },
    settings: TRANSFER_SETTINGS.laptop,
    seconds: (performance.now() - t0) / 1000,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    pretrain: r.pretrain,
    fineTune: r.fineTune,
    summary: r.summary,
    gaps: r.gaps,
    runs: r.runs.map((x) => ({
      mode: x.mode,
      seed: x.seed,
      valTop1Error: x.valTop1Error,
      imagesPerSecond: x.imagesPerSecond,
      history: x.history.map((m) => ({ epoch: m.epoch, trainTop1Error: m.trainTop1Error, valTop1Error: m.valTop1Error })),
    })),
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
