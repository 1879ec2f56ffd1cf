// The laptop profile's result over seeds, as `alexnet train --profile laptop`
// trains it: validation top-1 and top-5 error, training error, and the wall time
// of training (the embedded set is prepared before the clock starts; its
// generation is not counted). Writes bench/results/laptop-profile.json, which
// notebooks 08 and 09 and the README read.
// Usage: npm run bench -- bench/laptop-profile.ts [--seeds 1,2,3] [--data DIR --name NAME] [--epochs N] [--dropout R]
//   --data DIR: another prepared dataset (e.g. Fashion-MNIST at 146), written to bench/results/NAME.json.
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { embeddedDataset, EMBEDDED_SETS } from "../lib/data/embedded";
import { openDataset } from "../lib/data/shards";
import { selectEngine } from "../lib/engine/select";
import { describeSchedule, trainProfile } from "../lib/train/profiles";
import { train } from "../lib/train/trainer";
import { meanSd } from "../lib/eval/stats";
import { option, writeResult } from "./common";

const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));

async function main(): Promise<void> {
  const seeds = option("seeds", "1,2,3").split(",").map(Number);
  const profile = trainProfile("laptop");
  const engine = await selectEngine();
  const dataArg = option("data", "");
  const name = option("name", dataArg ? "laptop-custom" : "laptop-profile");
  const epochs = option("epochs", "") ? Number(option("epochs", "")) : undefined;
  const dropout = option("dropout", "") ? Number(option("dropout", "")) : undefined;
  const dataDir = dataArg ? path.resolve(dataArg) : (await embeddedDataset("laptop", { size: profile.recordSize })).dir;
  const dataset = openDataset(dataDir);
  const data = {
    dir: path.relative(process.cwd(), dataDir),
    classes: dataset.classes.length,
    train: dataset.split("train").length,
    val: dataset.split("val").length,
    source: dataset.manifest.preprocessing.source,
  };
  await dataset.close();
  const runs = [];
  for (const seed of seeds) {
    const runDir = path.join(process.cwd(), "runs", "bench", `${name}-seed${seed}`);
    rmSync(runDir, { recursive: true, force: true });
    const before = load();
    const t0 = performance.now();
    const r = await train({
      runDir,
      profile: "laptop",
      seed,
      data: dataDir,
      epochs,
      ...(dropout !== undefined ? { modelOptions: { dropout } } : {}),
      progress: "lines",
    });
    const seconds = (performance.now() - t0) / 1000;
    r.model.dispose();
    const last = r.final!;
    const row = {
      seed,
      valTop1Error: last.valTop1Error,
      valTop5Error: last.valTop5Error,
      trainTop1Error: last.trainTop1Error,
      seconds,
      imagesPerSecond: r.imagesPerSecond,
      loadAverage: { before, after: load() },
      history: r.history.map((m) => ({
        epoch: m.epoch,
        lr: m.lr,
        trainLoss: m.trainLoss,
        trainTop1Error: m.trainTop1Error,
        valLoss: m.valLoss,
        valTop1Error: m.valTop1Error,
        valTop5Error: m.valTop5Error,
        imagesPerSecond: m.imagesPerSecond,
        seconds: m.seconds,
      })),
    };
    console.log(
      `seed ${seed}: val top-1 ${(100 * row.valTop1Error).toFixed(1)}%, top-5 ${(100 * row.valTop5Error).toFixed(1)}%, train top-1 ${(100 * row.trainTop1Error).toFixed(1)}% (on augmented batches), ${seconds.toFixed(0)} s at ${row.imagesPerSecond.toFixed(0)} img/s; load ${row.loadAverage.after.join(" ")}`,
    );
    runs.push(row);
  }
  const top1 = meanSd(runs.map((r) => r.valTop1Error));
  const secs = meanSd(runs.map((r) => r.seconds));
  console.log(
    `mean of ${runs.length} seeds: val top-1 ${(100 * top1.mean).toFixed(1)}% (sd ${(100 * top1.sd).toFixed(1)}), ${secs.mean.toFixed(0)} s of training`,
  );
  const file = writeResult(name, {
    engine: { engine: engine.engine, backend: engine.backend, details: engine.details },
    data,
    embeddedSet: dataArg ? undefined : EMBEDDED_SETS.laptop,
    recipe: {
      ...profile,
      modelOptions: { ...profile.modelOptions, ...(dropout !== undefined ? { dropout } : {}) },
      schedule: describeSchedule(profile.schedule, epochs ?? profile.epochs),
      epochs: epochs ?? profile.epochs,
    },
    seeds,
    summary: {
      valTop1Error: top1,
      valTop5Error: meanSd(runs.map((r) => r.valTop5Error)),
      trainTop1Error: meanSd(runs.map((r) => r.trainTop1Error)),
      seconds: secs,
    },
    runs,
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
