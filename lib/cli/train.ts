import path from "node:path";
import { UsageError, parse, parseNumber } from "./args";
import { formatEngineReport, selectEngine } from "../engine/select";
import { ALEXNET_VARIANTS, type AlexNetVariant } from "../model/alexnet";
import { PROFILES } from "../profiles";
import type { FreezeMode } from "../run/run";
import { TRAIN_PROFILES } from "../train/profiles";
import { type OptionName, TrainOptionsError, checkOptions } from "../train/settings";
import { type TrainResult, train } from "../train/trainer";
import { pct } from "../viz/format";

const HELP = `usage: alexnet train --out RUN [--data DIR] [options]

Trains AlexNet (section 5): SGD with momentum and weight decay, random crops
and reflections, a validation pass (top-1, top-5) and a checkpoint after every
epoch, and the learning rate divided by 10 as the profile's schedule says
(paper: when validation error stops improving; smoke and laptop: once, after
80% of the epochs, because a run of a few epochs never sees a plateau).
Ctrl-C stops after the current step and saves where it stopped; run the same
command with --resume to continue exactly where it left off.

  --data DIR        a prepared dataset (alexnet prepare); default: the profile's
                    embedded dataset, prepared on first use
  --out RUN         the run folder: run.json, metrics.jsonl, checkpoints/
  --profile P       ${PROFILES.join(" | ")} (default smoke); sets every default below
${PROFILES.map((p) => `                      ${p}: ${TRAIN_PROFILES[p].model}, ${TRAIN_PROFILES[p].crop}px crops of ${TRAIN_PROFILES[p].recordSize}px records, batch ${TRAIN_PROFILES[p].batchSize}, ${TRAIN_PROFILES[p].epochs} epochs`).join("\n")}
  --model M         ${ALEXNET_VARIANTS.join(" | ")}
  --epochs N        total epochs (with --resume: train up to N)
  --batch N         batch size
  --lr X            initial learning rate
  --dropout R       dropout rate on fc6 and fc7 (paper 0.5; the laptop profile has
                    none, to fit its time budget: see lib/train/profiles.ts)
  --seed N          seeds weights, data order, augmentation and dropout (default 1)
  --init DIR        fine-tune: start from a model folder (model.json + card.json,
                    e.g. alexnet import-torch) or a run folder (its best
                    checkpoint); the network, crop and input normalisation come
                    from there, and fc8 starts anew if the dataset has another
                    number of classes
  --freeze features train fc6..fc8 only; conv1..conv5 keep their weights
  --features-lr X   conv1..conv5 learn at X times the learning rate (e.g. 0.1)
  --workers N       loader threads (0: in-process)
  --keep-last N     newest checkpoints kept besides the best (default 3)
  --resume          continue the run in --out from its newest checkpoint that
                    passes its checks (sizes and sha256 of its files); a damaged
                    newer one is skipped, said so, and moved to RUN/superseded/
  --resume-from CHECKPOINT
                    continue from this checkpoint of the run (e.g.
                    RUN/checkpoints/epoch-0003); newer ones go to RUN/superseded/
  --force           write into a folder that holds other files (they are kept),
                    or replace a finished run in --out instead of resuming it
  --verify          check every shard of --data against its manifest first
  --json            print a JSON summary as the last line

One process trains a run at a time: RUN/run.lock names it, and a second train
or --resume on that folder is refused (a lock left by a process that no longer
runs is taken over, and said so).

Exit codes: 0 done, 1 error (e.g. the loss became NaN; the last good
checkpoint is kept), 2 bad usage or a refusal (a locked run, a folder holding
other files or a finished run), 130 stopped by Ctrl-C (resumable).`;

// The flag of each option train() may reject, as this command spells it.
const FLAGS: Partial<Record<OptionName, string>> = {
  runDir: "out",
  batchSize: "batch",
  featuresLrScale: "features-lr",
  keepLast: "keep-last",
};

/**
 * Runs fn, turning a TrainOptionsError into a UsageError (exit code 2) that
 * names the flags as typed: `--features-lr 0: use --freeze features ...`.
 */
function asUsage<T>(fn: () => T, values: Record<string, string | boolean | undefined>): T {
  const usage = (err: unknown): never => {
    if (!(err instanceof TrainOptionsError)) throw err;
    const named = err.options.map(([option, value]) => {
      const flag = FLAGS[option] ?? option;
      return `--${flag} ${String(values[flag] ?? value)}`;
    });
    throw new UsageError(`${named.join(" with ")}: ${err.reason}`);
  };
  try {
    const result = fn();
    return (result instanceof Promise ? result.catch(usage) : result) as T;
  } catch (err) {
    return usage(err);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: "string" },
      out: { type: "string" },
      profile: { type: "string" },
      model: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      init: { type: "string" },
      freeze: { type: "string" },
      "features-lr": { type: "string" },
      workers: { type: "string" },
      "keep-last": { type: "string" },
      dropout: { type: "string" },
      resume: { type: "boolean" },
      "resume-from": { type: "string" },
      force: { type: "boolean" },
      verify: { type: "boolean" },
      json: { type: "boolean" },
    },
    HELP,
  );
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; the dataset is given with --data DIR`);
  if (!values.out) throw new UsageError("--out RUN is required: the folder the run's checkpoints and metrics go to");
  const featuresLrScale = parseNumber("features-lr", values["features-lr"], { min: 0 });
  const lr = parseNumber("lr", values.lr, { min: 0 });
  const dropout = parseNumber("dropout", values.dropout, { min: 0 });
  const options = {
    runDir: path.resolve(values.out),
    data: values.data,
    profile: values.profile,
    model: values.model as AlexNetVariant | undefined,
    epochs: parseNumber("epochs", values.epochs, { min: 1, integer: true }),
    batchSize: parseNumber("batch", values.batch, { min: 1, integer: true }),
    lr,
    seed: parseNumber("seed", values.seed, { min: 0, integer: true }),
    init: values.init === undefined ? undefined : path.resolve(values.init),
    freeze: values.freeze as FreezeMode | undefined,
    featuresLrScale,
    workers: parseNumber("workers", values.workers, { min: 0, integer: true }),
    keepLast: parseNumber("keep-last", values["keep-last"], { min: 1, integer: true }),
    resume: values.resume ?? false,
    resumeFrom: values["resume-from"] === undefined ? undefined : path.resolve(values["resume-from"]),
    force: values.force ?? false,
    verify: values.verify ?? false,
    ...(dropout !== undefined ? { modelOptions: { dropout } } : {}),
  };
  // The library checks the values; here, before the engine starts, so a bad flag is reported at once.
  asUsage(() => checkOptions(options), values);

  const engine = await selectEngine();
  console.error(formatEngineReport(engine));
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) {
      console.error("\nstopping now, without a checkpoint of the current epoch");
      process.exit(130);
    }
    console.error("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit at once)");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  const started = performance.now();
  try {
    const result = await asUsage(() => train({ ...options, signal: controller.signal }), values);
    printResult(result, { out: values.out, json: values.json === true, started });
    return result.status === "completed" ? 0 : 130;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** The closing lines: where the run got to, and with --json one object a script can read. */
function printResult(result: TrainResult, options: { out: string; json: boolean; started: number }): void {
  const classes = result.model.outputs[0].shape[1] ?? 1;
  result.model.dispose();
  const f = result.final;
  // The epochs' wall time (validation passes included), without preparing the embedded set or
  // building the model: the "training time" of a budget. With --resume it adds up every epoch so far.
  const trainingSeconds = result.history.reduce((sum, m) => sum + m.seconds, 0);
  console.log(
    [
      `${result.status === "completed" ? "finished" : "stopped"}: ${result.history.length}/${result.config.epochs} epochs of ${result.config.model} in ${result.runDir}`,
      f
        ? `  epoch ${f.epoch}: train loss ${f.trainLoss.toFixed(3)}, train top-1 error ${pct(f.trainTop1Error)}; val top-1 error ${pct(f.valTop1Error)}, top-5 ${pct(f.valTop5Error)} (chance ${pct(1 - 1 / classes)})`
        : "  no epoch finished yet",
      `  ${result.imagesPerSecond.toFixed(1)} training images/s on ${result.backend}, ${trainingSeconds.toFixed(0)} s of training; last checkpoint ${result.lastCheckpoint ?? "none"}; best ${result.bestCheckpoint ?? "none"}`,
      result.status === "interrupted" ? `  continue with: alexnet train --out ${options.out} --resume` : "",
    ]
      .filter((l) => l !== "")
      .join("\n"),
  );
  if (options.json) {
    console.log(
      JSON.stringify({
        status: result.status,
        epochs: f?.epoch ?? 0,
        trainLoss: f?.trainLoss ?? null,
        trainTop1Error: f?.trainTop1Error ?? null,
        valTop1Error: f?.valTop1Error ?? null,
        valTop5Error: f?.valTop5Error ?? null,
        imagesPerSecond: result.imagesPerSecond,
        trainingSeconds,
        seconds: (performance.now() - options.started) / 1000,
        backend: result.backend,
        runDir: result.runDir,
        lastCheckpoint: result.lastCheckpoint ?? null,
        bestCheckpoint: result.bestCheckpoint ?? null,
        resumedFrom: result.resumedFrom ?? null,
      }),
    );
  }
}
