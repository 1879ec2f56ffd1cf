// Do random crops and reflections help (section 4.1: "Without this scheme, our
// network suffers from substantial overfitting")? The laptop recipe trained
// twice per seed on the same embedded images, with its random 128 crops and
// reflections and with centre crops only (PCA lighting in both), for the same
// number of steps. The paper's network saw each image about 90 times; overfitting
// needs many passes, so the default is a 2,000-image subset seen 16 times (the
// laptop run's 32,000 images in all), not the laptop set's 4 passes.
// Writes bench/results/augmentation.json (notebook 07 reads it).
// Usage: npm run bench -- bench/augmentation.ts [--per-class 200] [--epochs 16] [--seeds 1,2,3,4,5,6]
import os from "node:os";
import path from "node:path";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { embeddedDataset } from "../lib/data/embedded";
import { selectEngine } from "../lib/engine/select";
import { trainProfile } from "../lib/train/profiles";
import { train } from "../lib/train/trainer";
import { meanSd, pairedDifference } from "../lib/eval/stats";
import { option, writeResult } from "./common";

async function main(): Promise<void> {
  const engine = await selectEngine();
  const perClass = Number(option("per-class", "200"));
  const epochs = Number(option("epochs", "16"));
  const seeds = option("seeds", "1,2,3,4,5,6").split(",").map(Number);
  const profile = trainProfile("laptop");
  const data = await embeddedDataset("laptop", { size: profile.recordSize, perClass: { train: perClass, val: 100 } });
  const images = data.dataset.split("train").length;
  const valImages = data.dataset.split("val").length;
  await data.dataset.close();
  // cpu: which machine trained the row (a resumed bench may hold rows from another session's machine).
  type Row = {
    seed: number;
    cropsAndReflections: boolean;
    valTop1Error: number;
    valTop5Error: number;
    trainTop1Error: number;
    seconds: number;
    cpu?: string;
    history: Record<string, number>[];
  };
  // Finished runs are kept beside the run folders, so an interrupted bench resumes with the run it was in.
  const finished = path.join(process.cwd(), "runs", "bench", `augmentation-finished-${perClass}x${epochs}.json`);
  const kept: Row[] = existsSync(finished) ? JSON.parse(readFileSync(finished, "utf8")) : [];
  const runs: Row[] = [];
  for (const seed of seeds) {
    for (const crops of [true, false]) {
      const done = kept.find((r) => r.seed === seed && r.cropsAndReflections === crops);
      if (done) {
        console.log(`seed ${seed}, ${crops ? "crops" : "centre"}: kept from an earlier run (${finished})`);
        runs.push(done);
        continue;
      }
      const runDir = path.join(process.cwd(), "runs", "bench", `augmentation-${crops ? "crops" : "centre"}-seed${seed}`);
      rmSync(runDir, { recursive: true, force: true });
      const t0 = performance.now();
      const r = await train({ runDir, profile: "laptop", data: data.dir, epochs, seed, cropsAndReflections: crops, progress: "lines" });
      r.model.dispose();
      const last = r.final!;
      const row = {
        seed,
        cropsAndReflections: crops,
        valTop1Error: last.valTop1Error,
        valTop5Error: last.valTop5Error,
        trainTop1Error: last.trainTop1Error,
        seconds: (performance.now() - t0) / 1000,
        cpu: os.cpus()[0]?.model.trim(),
        history: r.history.map((m) => ({
          epoch: m.epoch,
          trainTop1Error: m.trainTop1Error,
          valTop1Error: m.valTop1Error,
          trainLoss: m.trainLoss,
          valLoss: m.valLoss,
        })),
      };
      console.log(
        `seed ${seed}, ${crops ? "random crops and reflections" : "centre crops only"}: val top-1 ${(100 * row.valTop1Error).toFixed(1)}%, train top-1 ${(100 * row.trainTop1Error).toFixed(1)}%; load ${os.loadavg()[0].toFixed(2)}`,
      );
      runs.push(row);
      mkdirSync(path.dirname(finished), { recursive: true });
      writeFileSync(finished, JSON.stringify([...kept.filter((k) => !runs.includes(k)), ...runs]));
    }
  }
  const withCrops = runs.filter((r) => r.cropsAndReflections);
  const without = runs.filter((r) => !r.cropsAndReflections);
  // Paired by seed: the same initial weights, data order and lighting draws, one thing changed.
  const errorOf = (rows: typeof runs, seed: number) => rows.find((r) => r.seed === seed)!.valTop1Error;
  const difference = pairedDifference(
    seeds.map((s) => errorOf(withCrops, s)),
    seeds.map((s) => errorOf(without, s)),
  );
  const file = writeResult("augmentation", {
    engine: { engine: engine.engine, backend: engine.backend, details: engine.details },
    data: { dir: path.relative(process.cwd(), data.dir), trainImages: images, valImages },
    recipe: {
      profile: "laptop",
      epochs,
      note: "the laptop recipe (lib/train/profiles.ts) with its epochs replaced; the rate drops after 80% of them",
    },
    seeds,
    summary: {
      withCrops: {
        valTop1Error: meanSd(withCrops.map((r) => r.valTop1Error)),
        trainTop1Error: meanSd(withCrops.map((r) => r.trainTop1Error)),
      },
      centreOnly: {
        valTop1Error: meanSd(without.map((r) => r.valTop1Error)),
        trainTop1Error: meanSd(without.map((r) => r.trainTop1Error)),
      },
      valTop1Difference: {
        ...difference,
        meaning: "centre-only minus with crops and reflections, paired by seed, with a 95% t interval: positive when they help",
      },
    },
    runs,
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
