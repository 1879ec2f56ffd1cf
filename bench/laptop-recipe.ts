// The runs behind the laptop recipe's choices (lib/train/profiles.ts): the
// laptop profile on the embedded set with one setting changed at a time, same
// seeds, same 4 epochs. Writes bench/results/laptop-recipe.json.
// Usage: npm run bench -- bench/laptop-recipe.ts [--seeds 1]
import os from "node:os";
import path from "node:path";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { embeddedDataset } from "../lib/data/embedded";
import { selectEngine } from "../lib/engine/select";
import { meanSd } from "../lib/eval/stats";
import type { ScheduleSpec } from "../lib/run/run";
import { trainProfile } from "../lib/train/profiles";
import { train, type TrainOptions } from "../lib/train/trainer";
import { option, writeResult } from "./common";

const PLATEAU: ScheduleSpec = { kind: "plateau", patience: 4, maxReductions: 3, factor: 0.1 };
/** Each variant changes the laptop recipe in what it names; "recipe" is the profile as it is. */
const VARIANTS: { name: string; change: string; options: Partial<TrainOptions> }[] = [
  { name: "recipe", change: "none: lr 0.005, one drop after 80% of the epochs, dropout 0", options: {} },
  { name: "lr-0.01", change: "the paper's lr 0.01", options: { lr: 0.01 } },
  { name: "plateau", change: "the former laptop schedule: /10 after 4 epochs without improvement", options: { schedule: PLATEAU } },
  { name: "dropout-0.5", change: "dropout 0.5 on fc6 and fc7, as the paper", options: { modelOptions: { dropout: 0.5 } } },
  { name: "dropout-0.5-8-epochs", change: "dropout 0.5 and twice the epochs", options: { modelOptions: { dropout: 0.5 }, epochs: 8 } },
];

async function main(): Promise<void> {
  const engine = await selectEngine();
  const seeds = option("seeds", "1").split(",").map(Number);
  const profile = trainProfile("laptop");
  const data = (await embeddedDataset("laptop", { size: profile.recordSize })).dir;
  type Run = { seed: number; valTop1Error: number; trainTop1Error: number; seconds: number; history: Record<string, number>[] };
  // Finished runs are kept beside the run folders, so an interrupted bench resumes with the run it was in.
  const finished = path.join(process.cwd(), "runs", "bench", "recipe-finished.json");
  const kept: Record<string, Run> = existsSync(finished) ? JSON.parse(readFileSync(finished, "utf8")) : {};
  const rows = [];
  for (const v of VARIANTS) {
    const runs: Run[] = [];
    for (const seed of seeds) {
      const key = `${v.name}-seed${seed}`;
      if (kept[key]) {
        console.log(`${key}: kept from an earlier run (${finished})`);
        runs.push(kept[key]);
        continue;
      }
      const runDir = path.join(process.cwd(), "runs", "bench", `recipe-${v.name}-seed${seed}`);
      rmSync(runDir, { recursive: true, force: true });
      const t0 = performance.now();
      const r = await train({ runDir, profile: "laptop", data, seed, progress: "lines", ...v.options });
      r.model.dispose();
      const last = r.final!;
      runs.push({
        seed,
        valTop1Error: last.valTop1Error,
        trainTop1Error: last.trainTop1Error,
        seconds: (performance.now() - t0) / 1000,
        history: r.history.map((m) => ({ epoch: m.epoch, lr: m.lr, trainTop1Error: m.trainTop1Error, valTop1Error: m.valTop1Error })),
      });
      console.log(`${v.name}, seed ${seed}: val top-1 ${(100 * last.valTop1Error).toFixed(1)}%; load ${os.loadavg()[0].toFixed(2)}`);
      kept[key] = runs[runs.length - 1];
      mkdirSync(path.dirname(finished), { recursive: true });
      writeFileSync(finished, JSON.stringify(kept));
    }
    const epochs = v.options.epochs ?? profile.epochs;
    rows.push({
      ...v,
      epochs,
      runs,
      valTop1Error: meanSd(runs.map((r) => r.valTop1Error)),
      trainTop1Error: meanSd(runs.map((r) => r.trainTop1Error)),
    });
  }
  const file = writeResult("laptop-recipe", {
    engine: { engine: engine.engine, details: engine.details },
    data: path.relative(process.cwd(), data),
    seeds,
    variants: rows,
  });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
