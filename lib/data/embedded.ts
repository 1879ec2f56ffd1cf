// The embedded default dataset, prepared once per profile and reused by every
// notebook: data/prepared/synthetic-<profile>/. Preparing resumes, so a run
// interrupted half-way continues where it stopped.
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { type PrepareReport, prepareDataset } from "./prepare";
import { type Dataset, openDataset } from "./shards";
import { openCifar10 } from "./sources/cifar10";
import { type SyntheticOptions, syntheticSource } from "./synthetic";
import { type ProfileName, parseProfile } from "../profiles";

/** How big the embedded set is in each profile. */
export const EMBEDDED_SETS: Record<ProfileName, Required<Pick<SyntheticOptions, "seed" | "classes" | "trainPerClass" | "valPerClass">>> = {
  smoke: { seed: 1, classes: 10, trainPerClass: 12, valPerClass: 4 },
  laptop: { seed: 1, classes: 10, trainPerClass: 260, valPerClass: 50 },
  paper: { seed: 1, classes: 10, trainPerClass: 260, valPerClass: 50 },
};

/** The project's root folder, also when lib/ is reached through notebooks/lib. */
export function projectRoot(): string {
  return path.resolve(realpathSync(__dirname), "..", "..");
}

/** data/prepared/synthetic-<profile>, with -<size> for records other than the paper's 256x256. */
export function embeddedDatasetDir(profile: string, root = projectRoot(), size = 256): string {
  return path.join(root, "data", "prepared", `synthetic-${parseProfile(profile)}${size === 256 ? "" : `-${size}`}`);
}

export interface EmbeddedDataset {
  dir: string;
  dataset: Dataset;
  /** What preparing did in this call; undefined when the set was already complete. */
  report?: PrepareReport;
}

export interface EmbeddedOptions {
  root?: string;
  progress?: "silent";
  /** Side of the stored records: 256 as in the paper; 32 or 64 for the small experiments. */
  size?: number;
}

/** Opens the profile's embedded dataset, preparing it first if it is not complete. */
export async function embeddedDataset(profile: string, options: EmbeddedOptions = {}): Promise<EmbeddedDataset> {
  const size = options.size ?? 256;
  const dir = embeddedDatasetDir(profile, options.root, size);
  let report: PrepareReport | undefined;
  if (!existsSync(path.join(dir, "manifest.json"))) {
    const set = EMBEDDED_SETS[parseProfile(profile)];
    report = await prepareDataset({ source: syntheticSource(set), out: dir, size, sourceDescription: { format: "synthetic", ...set }, progress: options.progress });
  }
  return { dir, dataset: openDataset(dir), report };
}

/** Where a user may put CIFAR-10's binary batches for the experiments that the paper ran on it. */
export const CIFAR10_FOLDERS = ["data/cifar-10-batches-bin", "data/cifar10/cifar-10-batches-bin", "data/cifar10"];

export interface ExperimentData extends EmbeddedDataset {
  /** "CIFAR-10" or "the embedded dataset". */
  name: string;
}

/**
 * The dataset for experiments the paper ran on CIFAR-10 (Figure 1; LRN's
 * 13% to 11%): CIFAR-10 when its binary batches are in data/, prepared once at
 * `size`; otherwise the embedded dataset at the same size.
 */
export async function cifarOrEmbedded(profile: string, options: EmbeddedOptions = {}): Promise<ExperimentData> {
  const root = options.root ?? projectRoot();
  const size = options.size ?? 32;
  const found = CIFAR10_FOLDERS.map((f) => path.join(root, f)).find((f) => existsSync(path.join(f, "data_batch_1.bin")) || existsSync(path.join(f, "cifar-10-batches-bin", "data_batch_1.bin")));
  if (!found) return { ...(await embeddedDataset(profile, { ...options, size })), name: "the embedded dataset" };
  const dir = path.join(root, "data", "prepared", `cifar10-${size}`);
  let report: PrepareReport | undefined;
  if (!existsSync(path.join(dir, "manifest.json"))) {
    report = await prepareDataset({ source: await openCifar10(found), out: dir, size, sourceDescription: { format: "cifar10", path: found }, progress: options.progress });
  }
  return { dir, dataset: openDataset(dir), report, name: "CIFAR-10" };
}
