// Transfer learning with nothing downloaded (notebook 10): the embedded set's
// classes are split in two. A network learns the first group from many images
// (the role ImageNet plays for torchvision's weights); its features then start
// a network for the second group, which has only a few images per class, with
// the features frozen or trained at a tenth of the rate, against the same
// network trained from scratch on the same few images. Fine-tuning runs are
// repeated over seeds (the seed sets fc8's start, the data order, the
// augmentation and dropout), so the gap comes with its spread.
import path from "node:path";
import { EMBEDDED_SETS, embeddedDataset } from "../data/embedded";
import { meanSd, pairedDifference } from "../eval/stats";
import type { ProfileName } from "../profiles";
import { trainProfile } from "./profiles";
import type { EpochMetrics } from "../run/run";
import type { ProgressMode } from "../viz/training";
import { train } from "./trainer";

/**
 * The fine-tuning set and budget per profile (notebook 10 and bench/transfer.ts):
 * a few images per class, as when a practitioner has a small labelled set.
 */
export const TRANSFER_SETTINGS: Readonly<
  Record<ProfileName, Required<Pick<TransferOptions, "fineTunePerClass" | "fineTuneValPerClass" | "fineTuneEpochs" | "seeds">>>
> = {
  smoke: { fineTunePerClass: 2, fineTuneValPerClass: 2, fineTuneEpochs: 3, seeds: [1, 2] },
  laptop: { fineTunePerClass: 20, fineTuneValPerClass: 50, fineTuneEpochs: 20, seeds: [1, 2, 3] },
  paper: { fineTunePerClass: 20, fineTuneValPerClass: 50, fineTuneEpochs: 20, seeds: [1, 2, 3] },
};

export type TransferMode = "frozen" | "slow-features" | "scratch";
export const TRANSFER_MODES: readonly TransferMode[] = ["frozen", "slow-features", "scratch"];

export interface TransferOptions {
  /** Run folders go under here: pretrain/, <mode>-seed<N>/. Existing complete runs are reused. */
  workDir: string;
  /** Whose recipe and embedded set. Default "laptop". */
  profile?: string;
  /** Labels of the embedded set learnt first. Default the first half. */
  pretrainClasses?: number[];
  /** Labels fine-tuned on. Default the second half. */
  fineTuneClasses?: number[];
  /** Training images per class of the fine-tuning set. Default 20. */
  fineTunePerClass?: number;
  /** Validation images per class of the fine-tuning set. Default the profile set's. */
  fineTuneValPerClass?: number;
  /** Default: the profile's epochs. */
  pretrainEpochs?: number;
  /** Default 30. */
  fineTuneEpochs?: number;
  /** Default [1, 2, 3]. */
  seeds?: number[];
  modes?: TransferMode[];
  /** Project root the embedded set is prepared under (tests pass a temporary folder). Default: this checkout. */
  root?: string;
  progress?: ProgressMode;
  /** Called when a run starts, e.g. to say so in a notebook. */
  onRun?: (what: string) => void;
}

export interface TransferRun {
  mode: TransferMode;
  seed: number;
  runDir: string;
  history: EpochMetrics[];
  /** Val top-1 error after the last epoch. */
  valTop1Error: number;
  imagesPerSecond: number;
}

export interface ModeSummary {
  mode: TransferMode;
  runs: number;
  meanValTop1Error: number;
  /** Sample standard deviation over seeds (NaN for one seed). */
  sdValTop1Error: number;
}

export interface TransferResult {
  pretrain: { runDir: string; classes: string[]; images: number; valTop1Error: number; epochs: number };
  fineTune: { classes: string[]; trainImages: number; valImages: number; epochs: number };
  runs: TransferRun[];
  summary: ModeSummary[];
  /** Scratch minus mode, per seed, for each fine-tuning mode: how much val top-1 error the pretrained features saved, with a 95% interval over seeds. */
  gaps: { mode: TransferMode; perSeed: number[]; mean: number; sd: number; low: number; high: number }[];
}

function halves(classes: number): [number[], number[]] {
  const all = Array.from({ length: classes }, (_, i) => i);
  const cut = Math.floor(classes / 2);
  return [all.slice(0, cut), all.slice(cut)];
}

/** Pre-trains on one group of embedded classes, fine-tunes on the other, against scratch; see the header. */
export async function transferExperiment(options: TransferOptions): Promise<TransferResult> {
  const profile = trainProfile(options.profile ?? "laptop");
  const set = EMBEDDED_SETS[profile.name];
  const [first, second] = halves(set.classes);
  const pretrainClasses = options.pretrainClasses ?? first;
  const fineTuneClasses = options.fineTuneClasses ?? second;
  if (pretrainClasses.some((c) => fineTuneClasses.includes(c)))
    throw new Error(
      `transferExperiment: the pre-training classes [${pretrainClasses}] and the fine-tuning classes [${fineTuneClasses}] overlap; transfer is measured on classes the features never saw.`,
    );
  const seeds = options.seeds ?? [1, 2, 3];
  const modes = options.modes ?? [...TRANSFER_MODES];
  const fineTuneEpochs = options.fineTuneEpochs ?? 30;
  const silent = options.progress === "silent" ? "silent" : undefined;

  const pre = await embeddedDataset(profile.name, {
    root: options.root,
    size: profile.recordSize,
    classes: pretrainClasses,
    progress: silent,
  });
  const perClass = options.fineTunePerClass ?? 20;
  const ft = await embeddedDataset(profile.name, {
    root: options.root,
    size: profile.recordSize,
    classes: fineTuneClasses,
    perClass: { train: perClass, val: options.fineTuneValPerClass ?? set.valPerClass },
    progress: silent,
  });
  const preInfo = { classes: pre.dataset.classes, images: pre.dataset.split("train").length };
  const ftInfo = { classes: ft.dataset.classes, trainImages: ft.dataset.split("train").length, valImages: ft.dataset.split("val").length };
  await pre.dataset.close();
  await ft.dataset.close();

  const pretrainDir = path.join(options.workDir, "pretrain");
  options.onRun?.(`pre-training on ${preInfo.classes.join(", ")} (${preInfo.images} images)`);
  const pretrained = await train({
    runDir: pretrainDir,
    profile: profile.name,
    data: pre.dir,
    epochs: options.pretrainEpochs,
    resume: true,
    progress: options.progress,
  });
  pretrained.model.dispose();
  const preFinal = pretrained.final;
  if (!preFinal) throw new Error(`transferExperiment: the pre-training run ${pretrainDir} has no finished epoch.`);

  const runs: TransferRun[] = [];
  for (const seed of seeds) {
    for (const mode of modes) {
      const runDir = path.join(options.workDir, `${mode}-seed${seed}`);
      options.onRun?.(`${mode}, seed ${seed}`);
      const common = {
        runDir,
        profile: profile.name,
        data: ft.dir,
        epochs: fineTuneEpochs,
        seed,
        resume: true,
        progress: options.progress,
        batchSize: Math.min(profile.batchSize, ftInfo.trainImages),
      };
      const r =
        mode === "scratch"
          ? await train(common)
          : await train({
              ...common,
              init: pretrainDir,
              ...(mode === "frozen" ? { freeze: "features" as const } : { featuresLrScale: 0.1 }),
            });
      r.model.dispose();
      const last = r.final;
      if (!last) throw new Error(`transferExperiment: ${runDir} has no finished epoch.`);
      runs.push({ mode, seed, runDir, history: r.history, valTop1Error: last.valTop1Error, imagesPerSecond: r.imagesPerSecond });
    }
  }
  const summary = modes.map((mode) => {
    const errs = runs.filter((r) => r.mode === mode).map((r) => r.valTop1Error);
    const { mean, sd } = meanSd(errs);
    return { mode, runs: errs.length, meanValTop1Error: mean, sdValTop1Error: sd };
  });
  const errorsOf = (mode: TransferMode) =>
    seeds.map((seed) => (runs.find((r) => r.mode === mode && r.seed === seed) as TransferRun).valTop1Error);
  const gaps = modes.includes("scratch")
    ? modes
        .filter((m) => m !== "scratch")
        .map((mode) => {
          // b - a with b scratch's errors: positive when the pretrained start does better.
          const d = pairedDifference(errorsOf(mode), errorsOf("scratch"));
          return { mode, perSeed: d.perPair, mean: d.mean, sd: d.sd, low: d.low, high: d.high };
        })
    : [];
  return {
    pretrain: { runDir: pretrainDir, ...preInfo, valTop1Error: preFinal.valTop1Error, epochs: preFinal.epoch },
    fineTune: { ...ftInfo, epochs: fineTuneEpochs },
    runs,
    summary,
    gaps,
  };
}

/** Per mode, the validation top-1 error of each epoch averaged over the seeds (for one curve per mode). */
export function meanCurves(result: TransferResult): { mode: TransferMode; history: { epoch: number; valTop1Error: number }[] }[] {
  const modes = [...new Set(result.runs.map((r) => r.mode))];
  return modes.map((mode) => {
    const runs = result.runs.filter((r) => r.mode === mode);
    const epochs = Math.min(...runs.map((r) => r.history.length));
    return {
      mode,
      history: Array.from({ length: epochs }, (_, i) => ({
        epoch: i + 1,
        valTop1Error: runs.reduce((s, r) => s + r.history[i].valTop1Error, 0) / runs.length,
      })),
    };
  });
}

/** What each mode means, for tables and legends. */
export const TRANSFER_MODE_NAMES: Readonly<Record<TransferMode, string>> = {
  frozen: "pretrained features, frozen",
  "slow-features": "pretrained features at 0.1x the rate",
  scratch: "from scratch",
};
