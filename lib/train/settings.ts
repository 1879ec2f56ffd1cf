// The settings of a training run, resolved before anything is built: each
// explicit option, else (when resuming) the one the run started with, else the
// profile's (lib/train/profiles.ts). Also where every option is checked, once:
// a bad value raises a TrainOptionsError, which the CLI reports as bad usage
// (exit code 2) in its own flag names.
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { embeddedDataset } from "../data/embedded";
import { ALEXNET_VARIANTS, type AlexNetOptions, type AlexNetVariant, planAlexNet } from "../model/alexnet";
import { PROFILES } from "../profiles";
import { describeTrained } from "../run/describe";
import { FREEZE_MODES, type FreezeMode, type RunConfig, type ScheduleSpec } from "../run/run";
import { dropEpoch, recordSizeFor, trainProfile } from "./profiles";
import { type LrSchedule, PlateauSchedule, StepSchedule } from "./schedule";

/** The options of train() that say what run it is (lib/train/trainer.ts adds how to run it). */
export interface RunOptions {
  /** Where checkpoints, metrics.jsonl and the run's settings go. */
  runDir: string;
  /** A prepared dataset's folder. Default: the profile's embedded dataset, prepared at the profile's record size. */
  data?: string;
  /** smoke, laptop or paper (lib/train/profiles.ts): the defaults of every setting below. Default "smoke". */
  profile?: string;
  model?: AlexNetVariant;
  /** numClasses comes from the dataset; seed from `seed`. */
  modelOptions?: AlexNetOptions;
  /** Total epochs of the run (a resumed run continues up to this). */
  epochs?: number;
  batchSize?: number;
  /** The initial learning rate. */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: ScheduleSpec;
  /** Seeds the initial weights, the data order and augmentation, and dropout. Default 1. */
  seed?: number;
  /** The model's input side, so the crop side. Default: the profile's. */
  crop?: number;
  /** Pixels are multiplied by this before the network (see lib/train/profiles.ts). */
  inputScale?: number;
  /** Std of the PCA lighting alphas. */
  lighting?: number;
  /** Random crops and reflections of the training images (section 4.1). Default true; false trains on centre crops (PCA lighting still applies). */
  cropsAndReflections?: boolean;
  /**
   * Start from trained weights: a model folder (model.json + card.json) or a
   * training run folder (its best checkpoint). The variant, model options, crop
   * and input normalisation then come from there, not the profile.
   */
  init?: string;
  /** "features": conv1..conv5 are not trained. Default "none". */
  freeze?: FreezeMode;
  /** Learning-rate factor of conv1..conv5 (e.g. 0.1: ten times slower than fc6..fc8). Default 1. */
  featuresLrScale?: number;
  /** Continue from the newest checkpoint in runDir that passes its checks (lib/train/resume.ts). */
  resume?: boolean;
  /** Continue from this checkpoint of the run (implies resume); newer ones are moved to RUN/superseded/. */
  resumeFrom?: string;
  /** Write into a folder that holds other files (they are kept), or replace a finished run when not resuming. */
  force?: boolean;
  /** Check every shard of the data against its manifest (sizes and sha256) before training. */
  verify?: boolean;
  /** Newest checkpoints kept (the best is kept besides). Default 3. */
  keepLast?: number;
}

/** An option name as train() spells it; "dropout" is modelOptions.dropout. */
export type OptionName = keyof RunOptions | "dropout";

/**
 * An option value train() cannot use. `options` names the options at fault with
 * the values given, and `reason` says what is wrong in words that read after
 * "<option> <value>: ", so that a front end can name them in its own terms (the
 * CLI: `--features-lr 0: ...`, exit code 2). The message is the library's.
 */
export class TrainOptionsError extends Error {
  override name = "TrainOptionsError";
  constructor(
    message: string,
    readonly options: [OptionName, unknown][],
    readonly reason: string,
  ) {
    super(message);
  }
}

function checkCount(what: keyof RunOptions, value: number | undefined, min: number): void {
  const reason = `must be a whole number of at least ${min}`;
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw new TrainOptionsError(`train: ${what} ${reason}, got ${String(value)}.`, [[what, value]], reason);
}

function checkRate(what: keyof RunOptions, value: number | undefined): void {
  const reason = "must be a finite number >= 0";
  if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0))
    throw new TrainOptionsError(`train: ${what} ${reason}, got ${String(value)}.`, [[what, value]], reason);
}

/**
 * Checks each option's value on its own and against the others (not against
 * an init model or a resumed run: resolveSettings does that). Synchronous and
 * touches nothing, so a front end can call it before it starts anything.
 */
export function checkOptions(options: RunOptions): void {
  if (!options.runDir)
    throw new TrainOptionsError(
      "train: runDir is required: the folder checkpoints and metrics go to.",
      [["runDir", options.runDir]],
      "the folder checkpoints and metrics go to is required",
    );
  if (options.profile !== undefined && !(PROFILES as readonly string[]).includes(options.profile)) {
    const reason = `use one of ${PROFILES.join(", ")}`;
    throw new TrainOptionsError(`train: unknown profile '${options.profile}': ${reason}`, [["profile", options.profile]], reason);
  }
  if (options.model !== undefined && !(ALEXNET_VARIANTS as readonly string[]).includes(options.model)) {
    const reason = `use one of ${ALEXNET_VARIANTS.join(", ")}`;
    throw new TrainOptionsError(`train: model '${options.model}' is unknown; ${reason}.`, [["model", options.model]], reason);
  }
  checkCount("epochs", options.epochs, 1);
  checkCount("batchSize", options.batchSize, 1);
  checkCount("crop", options.crop, 1);
  checkCount("seed", options.seed, 0);
  checkCount("keepLast", options.keepLast, 1);
  checkRate("lr", options.lr);
  checkRate("momentum", options.momentum);
  checkRate("weightDecay", options.weightDecay);
  checkRate("inputScale", options.inputScale);
  checkRate("lighting", options.lighting);
  checkRate("featuresLrScale", options.featuresLrScale);
  if (options.lr === 0)
    throw new TrainOptionsError(
      "train: lr 0: the learning rate must be greater than 0.",
      [["lr", 0]],
      "the learning rate must be greater than 0",
    );
  if (options.inputScale === 0)
    throw new TrainOptionsError("train: inputScale must be greater than 0.", [["inputScale", 0]], "must be greater than 0");
  const dropout = options.modelOptions?.dropout;
  if (dropout !== undefined && !(dropout >= 0 && dropout < 1)) {
    const reason = "a rate in [0, 1), e.g. 0.5 as the paper has";
    throw new TrainOptionsError(`train: dropout ${String(dropout)} must be ${reason}.`, [["dropout", dropout]], reason);
  }
  if (options.freeze !== undefined && !(FREEZE_MODES as readonly string[]).includes(options.freeze)) {
    const reason = `use one of ${FREEZE_MODES.join(", ")}`;
    throw new TrainOptionsError(`train: freeze '${String(options.freeze)}' is unknown; ${reason}.`, [["freeze", options.freeze]], reason);
  }
  if (options.featuresLrScale === 0) {
    // Named in both spellings: the reason reads after the CLI's flag as well as the option.
    const reason = 'use --freeze features (freeze "features") to keep conv1..conv5 as they are';
    throw new TrainOptionsError(
      `train: featuresLrScale 0 would leave the features as they are; ${reason}.`,
      [["featuresLrScale", 0]],
      reason,
    );
  }
  if (options.freeze === "features" && (options.featuresLrScale ?? 1) !== 1) {
    const reason = "frozen layers do not learn at any rate; choose one";
    throw new TrainOptionsError(
      'train: frozen features are not trained, so featuresLrScale has no effect; choose freeze "features" or a featuresLrScale, not both.',
      [
        ["freeze", "features"],
        ["featuresLrScale", options.featuresLrScale],
      ],
      reason,
    );
  }
}

/** A run's settings; `data` is undefined when none was given and the run is new (defaultDataset then picks it). */
export type Settings = Omit<RunConfig, "data"> & { data: string | undefined };

/**
 * The settings of a run: each explicit option, else (when resuming) the one the
 * run started with, else the profile's. An explicit option that contradicts the
 * saved one is an error, since the resumed run would not be the same run.
 * The options are checkOptions'd already.
 */
export function resolveSettings(options: RunOptions, saved: RunConfig | undefined): Settings {
  const explicit: Partial<Settings> = {
    profile: options.profile,
    data: options.data === undefined ? undefined : path.resolve(options.data),
    model: options.model,
    epochs: options.epochs,
    batchSize: options.batchSize,
    lr: options.lr,
    momentum: options.momentum,
    weightDecay: options.weightDecay,
    schedule: options.schedule,
    seed: options.seed,
    crop: options.crop,
    inputScale: options.inputScale,
    lighting: options.lighting,
    cropsAndReflections: options.cropsAndReflections,
    init: options.init === undefined ? undefined : path.resolve(options.init),
    freeze: options.freeze,
    featuresLrScale: options.featuresLrScale,
  };
  if (saved) {
    // Runs written before fine-tuning existed trained every layer at one rate.
    saved = { freeze: "none", featuresLrScale: 1, cropsAndReflections: true, ...saved };
    for (const [key, value] of Object.entries(explicit)) {
      if (key === "epochs" || value === undefined) continue;
      const before = (saved as unknown as Record<string, unknown>)[key];
      if (!isDeepStrictEqual(before, value)) {
        throw new Error(
          `train --resume: ${options.runDir} was started with ${key} ${JSON.stringify(before)}, but this call asks for ${JSON.stringify(value)}; leave the option out to keep the run's setting, or start a new run folder.`,
        );
      }
    }
    if (options.modelOptions) {
      const merged = { ...saved.modelOptions, ...options.modelOptions };
      if (!isDeepStrictEqual(merged, saved.modelOptions))
        throw new Error(
          `train --resume: ${options.runDir} was started with model options ${JSON.stringify(saved.modelOptions)}, but this call asks for ${JSON.stringify(options.modelOptions)}; start a new run folder to change the network.`,
        );
    }
    return { ...saved, epochs: options.epochs ?? saved.epochs };
  }
  const profile = trainProfile(options.profile ?? "smoke");
  const init = explicit.init === undefined ? undefined : describeTrained(explicit.init, { role: "init" });
  if (init && options.model !== undefined && options.model !== init.variant)
    throw new Error(
      `train: model '${options.model}' was asked for, but the init ${init.dir} is '${init.variant}'; leave model out to fine-tune it.`,
    );
  const model = init ? init.variant : (options.model ?? profile.model);
  // The profile's network options apply to its own network; another variant keeps its defaults (torchvision needs 224).
  // With init, the network is the init model's; numClasses comes from the dataset.
  const base: AlexNetOptions = init
    ? withoutClasses(init.modelOptions)
    : model === profile.model
      ? { ...profile.modelOptions }
      : { init: profile.modelOptions.init };
  const seed = options.seed ?? 1;
  const modelOptions: AlexNetOptions = { ...base, ...options.modelOptions, seed };
  if (init) {
    const size = init.modelOptions.inputSize;
    const asked = options.crop ?? options.modelOptions?.inputSize;
    if (asked !== undefined && asked !== size)
      throw new Error(
        `train: crop ${asked} was asked for, but the init ${init.dir} takes ${size}x${size} inputs; leave crop out to fine-tune it.`,
      );
    modelOptions.inputSize = size;
  } else if (options.crop !== undefined) modelOptions.inputSize = options.crop;
  const crop = planAlexNet(model, modelOptions).inputSize;
  modelOptions.inputSize = crop;
  return {
    profile: profile.name,
    data: explicit.data,
    model,
    modelOptions,
    epochs: options.epochs ?? profile.epochs,
    batchSize: options.batchSize ?? profile.batchSize,
    lr: options.lr ?? profile.lr,
    momentum: options.momentum ?? profile.momentum,
    weightDecay: options.weightDecay ?? profile.weightDecay,
    schedule: options.schedule ?? profile.schedule,
    seed,
    crop,
    inputScale: options.inputScale ?? (init ? init.inputScale : profile.inputScale),
    lighting: options.lighting ?? profile.lighting,
    cropsAndReflections: options.cropsAndReflections ?? true,
    ...(init ? { init: init.dir } : {}),
    freeze: options.freeze ?? "none",
    featuresLrScale: options.featuresLrScale ?? 1,
    ...(init?.input ? { input: init.input } : {}),
  };
}

function withoutClasses(options: AlexNetOptions): AlexNetOptions {
  const copy = { ...options };
  delete copy.numClasses;
  return copy;
}

/**
 * The dataset of a run given none: the profile's embedded set (prepared on
 * first use) at records that keep the paper's 224/256 crop ratio for `crop`,
 * so the profile's own crop gets the profile's record size.
 */
export async function defaultDataset(profileName: string, crop: number, options: { progress?: "silent" } = {}): Promise<string> {
  const profile = trainProfile(profileName);
  const size = crop === profile.crop ? profile.recordSize : recordSizeFor(crop);
  return (await embeddedDataset(profile.name, { size, progress: options.progress })).dir;
}

/** The learning-rate schedule a run's spec describes. */
export function makeSchedule(spec: ScheduleSpec, lr: number, epochs: number): LrSchedule {
  if (spec.kind === "plateau")
    return new PlateauSchedule({ initial: lr, factor: spec.factor, patience: spec.patience, maxReductions: spec.maxReductions });
  if (spec.kind === "step") return new StepSchedule({ initial: lr, factor: spec.factor, every: spec.every });
  // One drop: a step schedule of one step, at the drop epoch.
  if (spec.kind === "drop")
    return new StepSchedule({ initial: lr, factor: spec.factor, every: dropEpoch(spec.after, epochs), maxSteps: 1 });
  throw new Error(`train: schedule kind ${JSON.stringify((spec as { kind: unknown }).kind)} is unknown; use "plateau", "step" or "drop".`);
}
