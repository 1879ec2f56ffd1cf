// The embedded default dataset, prepared once per profile and reused by every
// notebook: data/prepared/synthetic-<profile>/. Preparing resumes, so a run
// interrupted half-way continues where it stopped.
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { type PrepareReport, prepareDataset } from "./prepare";
import { type Dataset, openDataset } from "./shards";
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

export function embeddedDatasetDir(profile: string, root = projectRoot()): string {
  return path.join(root, "data", "prepared", `synthetic-${parseProfile(profile)}`);
}

export interface EmbeddedDataset {
  dir: string;
  dataset: Dataset;
  /** What preparing did in this call; undefined when the set was already complete. */
  report?: PrepareReport;
}

/** Opens the profile's embedded dataset, preparing it first if it is not complete. */
export async function embeddedDataset(profile: string, options: { root?: string; progress?: "silent" } = {}): Promise<EmbeddedDataset> {
  const dir = embeddedDatasetDir(profile, options.root);
  let report: PrepareReport | undefined;
  if (!existsSync(path.join(dir, "manifest.json"))) {
    const set = EMBEDDED_SETS[parseProfile(profile)];
    report = await prepareDataset({ source: syntheticSource(set), out: dir, sourceDescription: { format: "synthetic", ...set }, progress: options.progress });
  }
  return { dir, dataset: openDataset(dir), report };
}
