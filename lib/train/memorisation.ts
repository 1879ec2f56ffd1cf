// The memorisation check: any AlexNet, of any width, must be able to fit a few
// hundred images, labels and all. If a recipe cannot bring its own network to
// near-zero training error on a small set, it cannot learn, and every result it
// gives on a larger set is the recipe's failure rather than a property of the
// network (this is how the laptop profile's underfitting was diagnosed; see
// notebook 08). The check trains with the profile's full recipe (network,
// optimiser, dropout, crops, reflections, lighting) on the first images of each
// class of the embedded set, then measures the error on those same images as
// they are, centre crops with dropout off.
import * as tf from "@tensorflow/tfjs";
import { embeddedDataset } from "../data/embedded";
import { createLoader } from "../data/loader";
import { openDataset } from "../data/shards";
import type { ScheduleSpec } from "../run/run";
import { trainProfile } from "./profiles";
import type { EpochMetrics, RunConfig } from "../run/run";
import type { ProgressMode } from "../viz/training";
import { evaluate } from "./loop";
import { train } from "./trainer";

export interface MemorisationOptions {
  /** Where the run goes (a run folder, as `train`'s). */
  runDir: string;
  /** Whose recipe: smoke, laptop or paper. Default "laptop". */
  profile?: string;
  /** Training images per class. Default 30 (300 images at 10 classes). */
  perClass?: number;
  /** Default 60. */
  epochs?: number;
  /**
   * Default: the profile's when it is fixed in advance (the laptop's drops the
   * rate once, after 80% of the epochs); for a plateau rule, that one drop
   * instead: a plateau rule watches a validation split, and a memorisation run
   * has none worth the name.
   */
  schedule?: ScheduleSpec;
  /** Default: the profile's, or all the images when there are fewer. */
  batchSize?: number;
  seed?: number;
  /** Project root the embedded set is prepared under (tests pass a temporary folder). Default: this checkout. */
  root?: string;
  progress?: ProgressMode;
  onEpoch?: (metrics: EpochMetrics, history: EpochMetrics[]) => void;
}

export interface MemorisationResult {
  images: number;
  classes: number;
  epochs: number;
  /** Top-1 error on the training images, centre crops, dropout off, after the last epoch. */
  trainError: number;
  trainTop5Error: number;
  /** The trainer's per-epoch lines (their train error is measured on augmented batches with dropout on). */
  history: EpochMetrics[];
  config: RunConfig;
  seconds: number;
  engine: string;
}

/** Trains the profile's recipe on `perClass` embedded images per class and measures how well it fits them. */
export async function memorisationCheck(options: MemorisationOptions): Promise<MemorisationResult> {
  const profile = trainProfile(options.profile ?? "laptop");
  const perClass = options.perClass ?? 30;
  const epochs = options.epochs ?? 60;
  if (!(Number.isInteger(perClass) && perClass >= 1))
    throw new Error(`memorisationCheck: perClass must be a whole number >= 1, got ${perClass}.`);
  // The trainer wants a validation split; a few images per class are enough, nothing is read from them here.
  const data = await embeddedDataset(profile.name, {
    root: options.root,
    size: profile.recordSize,
    perClass: { train: perClass, val: 2 },
    progress: options.progress === "silent" ? "silent" : undefined,
  });
  await data.dataset.close();
  const t0 = performance.now();
  const result = await train({
    runDir: options.runDir,
    profile: profile.name,
    data: data.dir,
    epochs,
    batchSize: options.batchSize ?? Math.min(profile.batchSize, perClass * data.dataset.classes.length),
    schedule: options.schedule ?? (profile.schedule.kind === "plateau" ? { kind: "drop", after: 0.8, factor: 0.1 } : profile.schedule),
    seed: options.seed,
    progress: options.progress,
    onEpoch: options.onEpoch,
  });
  const dataset = openDataset(data.dir);
  const loader = createLoader(dataset, {
    split: "train",
    augment: "center",
    crop: result.config.crop,
    batchSize: 64,
    mean: "image",
    workers: 0,
  });
  try {
    const fit = await evaluate(result.model, loader, { inputScale: result.config.inputScale });
    return {
      images: loader.size,
      classes: dataset.classes.length,
      epochs: result.history.length,
      trainError: fit.top1Error,
      trainTop5Error: fit.top5Error,
      history: result.history,
      config: result.config,
      seconds: (performance.now() - t0) / 1000,
      engine: tf.getBackend(),
    };
  } finally {
    result.model.dispose();
    await loader.close();
    await dataset.close();
  }
}
