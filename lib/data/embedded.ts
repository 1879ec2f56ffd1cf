// The datasets a fresh machine has, prepared once and reused by every notebook:
// the embedded synthetic set (data/prepared/synthetic-<profile>[-<size>]) and,
// for the experiments the paper ran on CIFAR-10, real data where it exists
// (experimentDataset). Preparing resumes, so a run interrupted half-way
// continues where it stopped.
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type PrepareReport, prepareDataset } from "./prepare";
import { type Manifest, MANIFEST_FILE } from "./shard-format";
import { type Dataset, openDataset } from "./shards";
import { openCifar10 } from "./sources/cifar10";
import { FASHION_MNIST_CLASS_NAMES, openIdx } from "./sources/idx";
import { limitPerClass } from "./sources/index";
import { type SyntheticOptions, syntheticDescription, syntheticSource } from "./synthetic";
import type { DataSource, SplitName } from "./types";
import { type ProfileName, parseProfile } from "../profiles";

/**
 * How big the embedded set is in each profile. The laptop set has 800 training
 * images per class: the laptop recipe's 4 epochs of them, 32,000 images, take
 * about 5 minutes on 2 cores (4 epochs of 1,000 per class took 379 s, over the
 * 6-minute budget), and fresh images teach more than repeated ones; 100 per
 * class for validation give a top-1 error to about +-1.3 points (one standard
 * error at 20%).
 */
export const EMBEDDED_SETS: Record<ProfileName, Required<Pick<SyntheticOptions, "seed" | "classes" | "trainPerClass" | "valPerClass">>> = {
  smoke: { seed: 1, classes: 10, trainPerClass: 12, valPerClass: 4 },
  laptop: { seed: 1, classes: 10, trainPerClass: 800, valPerClass: 100 },
  paper: { seed: 1, classes: 10, trainPerClass: 800, valPerClass: 100 },
};

/** The project's root folder, also when lib/ is reached through notebooks/lib. */
export function projectRoot(): string {
  return path.resolve(realpathSync(__dirname), "..", "..");
}

/** data/prepared/synthetic-<profile>, with -<size> for records other than the paper's 256x256. */
export function embeddedDatasetDir(profile: string, root = projectRoot(), size = 256): string {
  return path.join(root, "data", "prepared", `synthetic-${parseProfile(profile)}${size === 256 ? "" : `-${size}`}`);
}

/** data/prepared/synthetic-<profile>-images: the profile's JPEGs, drawn once and prepared at every size from there. */
export function embeddedImagesDir(profile: string, root = projectRoot()): string {
  return path.join(root, "data", "prepared", `synthetic-${parseProfile(profile)}-images`);
}

export interface EmbeddedDataset {
  dir: string;
  dataset: Dataset;
  /** What preparing did in this call; undefined when the set was already complete. */
  report?: PrepareReport;
  /** Set when a complete copy of another design or size was found and prepared again: what it was. */
  replaced?: string;
}

export interface EmbeddedOptions {
  root?: string;
  progress?: "silent";
  /** Side of the stored records: 256 as in the paper; 146 for the laptop profile's 128 crops; 32 for Figure 1. */
  size?: number;
  /** A subset (or superset) of the profile's set: the first images of each class; its folder gets a -<train>+<val> suffix. */
  perClass?: { train: number; val: number };
  /** Only these classes (labels of the full set, relabelled 0.. in this order); the folder gets a -c<labels> suffix. */
  classes?: number[];
}

/** The source with only `labels`, relabelled 0.. in the given order. */
function withClasses(source: DataSource, labels: number[]): DataSource {
  const index = new Map(labels.map((l, i) => [l, i]));
  const splits: DataSource["splits"] = {};
  for (const name of Object.keys(source.splits) as SplitName[]) {
    splits[name] = (source.splits[name] ?? []).filter((r) => index.has(r.label)).map((r) => ({ ...r, label: index.get(r.label) as number }));
  }
  return { ...source, classes: labels.map((l) => source.classes[l]), splits };
}

function checkClasses(labels: number[], classes: number): void {
  const ok = labels.length >= 2 && new Set(labels).size === labels.length && labels.every((l) => Number.isInteger(l) && l >= 0 && l < classes);
  if (!ok) throw new Error(`embeddedDataset: classes must list at least two different labels from 0 to ${classes - 1}, got [${labels.join(", ")}].`);
}

/** Opens the profile's embedded dataset, preparing it first if it is not complete. */
export async function embeddedDataset(profile: string, options: EmbeddedOptions = {}): Promise<EmbeddedDataset> {
  const size = options.size ?? 256;
  const root = options.root ?? projectRoot();
  const base = EMBEDDED_SETS[parseProfile(profile)];
  const set = options.perClass ? { ...base, trainPerClass: options.perClass.train, valPerClass: options.perClass.val } : base;
  if (options.classes) checkClasses(options.classes, set.classes);
  const dir = embeddedDatasetDir(profile, root, size) + (options.perClass ? `-${set.trainPerClass}+${set.valPerClass}` : "") + (options.classes ? `-c${options.classes.join(".")}` : "");
  const wanted = { ...syntheticDescription(set), ...(options.classes ? { onlyClasses: options.classes } : {}) };
  // A folder prepared by an earlier version of the course holds another set: the
  // folder is a cache of a generated set, so it is made again rather than trained on.
  const replaced = staleDescription(dir, wanted);
  if (replaced !== undefined) rmSync(dir, { recursive: true, force: true });
  let report: PrepareReport | undefined;
  if (!existsSync(path.join(dir, MANIFEST_FILE))) {
    const images = imageCache(embeddedImagesDir(profile, root), syntheticDescription(set));
    const all = syntheticSource(set, images);
    report = await prepareDataset({ source: options.classes ? withClasses(all, options.classes) : all, out: dir, size, sourceDescription: wanted, progress: options.progress });
  }
  return { dir, dataset: openDataset(dir), report, ...(replaced !== undefined ? { replaced } : {}) };
}

const CACHE_LABEL = "source.json";

/**
 * The image cache folder for a set, emptied first when it holds another set's
 * images. Image i of a split depends on the design, seed, classes and quality,
 * not on how many images per class the set has, so a subset or a larger set
 * of the same generator shares the cache.
 */
function imageCache(dir: string, wanted: Record<string, unknown>): string {
  const label = path.join(dir, CACHE_LABEL);
  const { trainPerClass: _t, valPerClass: _v, ...generator } = wanted;
  const text = `${JSON.stringify(generator)}\n`;
  if (existsSync(label) && readFileSync(label, "utf8") !== text) rmSync(dir, { recursive: true, force: true });
  if (!existsSync(label)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(label, text);
  }
  return dir;
}

/** The source a complete prepared folder records, as JSON, when it is not `wanted`; undefined when it matches or is not complete. */
function staleDescription(dir: string, wanted: Record<string, unknown>): string | undefined {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  const manifest = JSON.parse(readFileSync(file, "utf8")) as Manifest;
  const found = manifest.preprocessing?.source as Record<string, unknown> | undefined;
  const same = found !== undefined && JSON.stringify(sortKeys(found)) === JSON.stringify(sortKeys(wanted));
  return same ? undefined : JSON.stringify(found ?? null);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Where a user may put CIFAR-10's binary batches for the experiments that the paper ran on it. */
export const CIFAR10_FOLDERS = ["data/cifar-10-batches-bin", "data/cifar10/cifar-10-batches-bin", "data/cifar10"];
/**
 * Where Fashion-MNIST's IDX files are looked for: data/fashion-mnist, then
 * Debian's package (`apt-get install dataset-fashion-mnist`, MIT licence).
 * Relative entries are under the project root.
 */
export const FASHION_MNIST_FOLDERS = ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"];

export type ExperimentDataName = "CIFAR-10" | "Fashion-MNIST" | "the embedded dataset";

export interface ExperimentData extends EmbeddedDataset {
  name: ExperimentDataName;
  /** Where the images came from: a folder, or the embedded set's generator. */
  from: string;
  /** The choice and why, one sentence for a notebook's output. */
  why: string;
}

export interface ExperimentDataOptions extends EmbeddedOptions {
  /**
   * Whether the experiment needs colour images. Fashion-MNIST is greyscale
   * (stored as three equal channels), so it stands in for CIFAR-10 only where
   * colour does not matter (ReLU, pooling, dropout), not for PCA lighting. Default true.
   */
  colour?: boolean;
  /** Folders searched for Fashion-MNIST. Default FASHION_MNIST_FOLDERS (tests pass their own). */
  fashionMnistFolders?: string[];
  /** Records per class kept from a real dataset, per split. Default: the profile's embedded set's trainPerClass. */
  limitPerClass?: number;
}

function findCifar10(root: string): string | undefined {
  return CIFAR10_FOLDERS.map((f) => path.join(root, f)).find((f) => existsSync(path.join(f, "data_batch_1.bin")) || existsSync(path.join(f, "cifar-10-batches-bin", "data_batch_1.bin")));
}

function findFashionMnist(root: string, folders: string[]): string | undefined {
  return folders.map((f) => path.resolve(root, f)).find((f) => ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"].some((n) => existsSync(path.join(f, n))));
}

function limited(source: DataSource, n: number): DataSource {
  const splits: DataSource["splits"] = {};
  for (const name of Object.keys(source.splits) as SplitName[]) splits[name] = limitPerClass(source.splits[name] ?? [], n);
  return { ...source, splits };
}

async function preparedOnce(dir: string, open: () => Promise<DataSource>, size: number, description: Record<string, unknown>, progress?: "silent"): Promise<{ dataset: Dataset; report?: PrepareReport; replaced?: string }> {
  const replaced = staleDescription(dir, description);
  if (replaced !== undefined) rmSync(dir, { recursive: true, force: true });
  let report: PrepareReport | undefined;
  if (!existsSync(path.join(dir, MANIFEST_FILE))) report = await prepareDataset({ source: await open(), out: dir, size, sourceDescription: description, progress });
  return { dataset: openDataset(dir), report, ...(replaced !== undefined ? { replaced } : {}) };
}

/**
 * The dataset for the experiments the paper ran on CIFAR-10 (Figure 1, LRN's
 * 13% to 11%) and for the small ablations, in this order: CIFAR-10 when its
 * binary batches are under data/; then, unless the experiment needs colour,
 * Fashion-MNIST (data/fashion-mnist or Debian's dataset-fashion-mnist); then
 * the embedded set. Real data is prepared once at `size`, keeping the first
 * `limitPerClass` records of each class in each split.
 */
export async function experimentDataset(profile: string, options: ExperimentDataOptions = {}): Promise<ExperimentData> {
  const name = parseProfile(profile);
  const root = options.root ?? projectRoot();
  const size = options.size ?? 32;
  const limit = options.limitPerClass ?? EMBEDDED_SETS[name].trainPerClass;
  const cifar = findCifar10(root);
  if (cifar) {
    const dir = path.join(root, "data", "prepared", `cifar10-${size}-${limit}`);
    const description = { format: "cifar10", path: cifar, limitPerClass: limit };
    const got = await preparedOnce(dir, async () => limited(await openCifar10(cifar), limit), size, description, options.progress);
    return { dir, ...got, name: "CIFAR-10", from: cifar, why: `CIFAR-10 from ${cifar} (${limit} images per class and split), the data of the paper's own CIFAR-10 experiments` };
  }
  const fashion = options.colour === false ? findFashionMnist(root, options.fashionMnistFolders ?? FASHION_MNIST_FOLDERS) : undefined;
  if (fashion) {
    const dir = path.join(root, "data", "prepared", `fashion-mnist-${size}-${limit}`);
    const description = { format: "idx", path: fashion, limitPerClass: limit };
    const open = async () => {
      const source = limited(await openIdx(fashion), limit);
      return source.classes.length === FASHION_MNIST_CLASS_NAMES.length ? { ...source, classNames: [...FASHION_MNIST_CLASS_NAMES] } : source;
    };
    const got = await preparedOnce(dir, open, size, description, options.progress);
    return {
      dir,
      ...got,
      name: "Fashion-MNIST",
      from: fashion,
      why: `no CIFAR-10 under data/ (${CIFAR10_FOLDERS[0]}), so Fashion-MNIST from ${fashion} (${limit} images per class and split; greyscale, which this experiment does not need)`,
    };
  }
  const embedded = await embeddedDataset(name, { ...options, size });
  const missing = options.colour === false ? `no CIFAR-10 under data/ and no Fashion-MNIST (\`apt-get install dataset-fashion-mnist\`)` : `no CIFAR-10 under data/ (${CIFAR10_FOLDERS[0]})`;
  return { ...embedded, name: "the embedded dataset", from: embedded.dir, why: `${missing}, so the embedded synthetic set` };
}
