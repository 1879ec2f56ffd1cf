// The prepared-dataset format on disk (data/FORMAT.md): packed uint8 HWC shards
// (an int32 label, then the pixels, per record), one JSON sidecar per finished
// shard, training statistics, and manifest.json written last. This module holds
// the names, the JSON shapes and their checks; shard-writer.ts writes them and
// shards.ts reads them.
import { readFileSync } from "node:fs";
import { checkImageShape } from "./stats";
import type { ImageShape } from "./stats";
import type { SplitName } from "./types";


export const FORMAT_VERSION = 1;

export const MANIFEST_FILE = "manifest.json";

export const STATS_FILE = "stats.json";

export const MEAN_IMAGE_FILE = "mean.f32";

export const SPLIT_NAMES: readonly SplitName[] = ["train", "val"];

export const RESUME_HINT = "run `alexnet prepare` again with the same options to resume";

export const REDO_HINT = "delete that shard's .bin and .json files and manifest.json, then run `alexnet prepare` again with the same options: it redoes only the missing shards";

/** Bytes of one record: an int32 label, then H*W*C uint8 pixels. */
export function recordBytes(shape: readonly number[]): number {
  const [h, w, c] = checkImageShape(shape, "record shape");
  return 4 + h * w * c;
}

/** "train-00042": the shared stem of a shard's .bin, .json and .sum.f64 files. */
export function shardStem(split: SplitName, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new Error(`shard index must be a non-negative integer, got ${index}.`);
  return `${split}-${String(index).padStart(5, "0")}`;
}

/** The JSON sidecar of a finished shard (`train-00042.json`). */
export interface ShardSidecar {
  format: "alexnet-shard";
  version: number;
  split: SplitName;
  index: number;
  /** The .bin file, relative to the dataset folder. */
  file: string;
  recordShape: ImageShape;
  recordBytes: number;
  records: number;
  /** Size of the .bin: records * recordBytes. */
  bytes: number;
  /** Hex sha256 of the .bin. */
  sha256: string;
  /** The preprocessing options the shard was made with; all shards of a dataset must agree. */
  preprocessing: Record<string, unknown>;
  /** Label of each record, in file order. */
  labels: number[];
  /** Source of each record (file path, "data_batch_1.bin#1234", ...), in file order. */
  origins: string[];
  /** Partial statistics of the shard's images, when the writer kept them (training split). */
  stats?: SidecarStats;
  /** Source records that were meant for this shard but could not be used, with the reason. */
  skipped?: SkippedRecord[];
}

export interface SkippedRecord {
  origin: string;
  reason: string;
}

export interface SidecarStats {
  /** Float64 little-endian sum of each pixel value over the shard's images, H*W*C, HWC order. */
  file: string;
  sha256: string;
  images: number;
  pixels: number;
  channelSum: number[];
  crossSum: number[];
}

/** What a finished shard holds; file names are relative to the dataset folder. */
export interface ShardInfo {
  split: SplitName;
  index: number;
  file: string;
  sidecar: string;
  records: number;
  bytes: number;
  sha256: string;
  hasStats: boolean;
  /** Records of the shard's source range that were skipped, kept so a resumed run can still report them. */
  skipped: SkippedRecord[];
}

export interface ShardEntry {
  file: string;
  sidecar: string;
  records: number;
  bytes: number;
  sha256: string;
}

export interface SplitManifest {
  /** Records in the split; record i is found by walking the shards in order. */
  count: number;
  shards: ShardEntry[];
  /** Records per class, indexed by label. */
  classCounts: number[];
  /** Source records left out (bad images); the sidecars list each with its reason. */
  skipped: number;
}

export interface Manifest {
  format: "alexnet-dataset";
  version: number;
  classes: string[];
  classNames?: string[];
  /** [height, width, channels]; pixels are row-major HWC uint8. */
  recordShape: ImageShape;
  recordBytes: number;
  /** numpy spellings of the two fields of a record. */
  labelDtype: "<i4";
  pixelDtype: "u1";
  splits: Partial<Record<SplitName, SplitManifest>>;
  /** Opaque options the records were made with (size, resize kernel, source format and path, ...). */
  preprocessing: Record<string, unknown>;
  /** Statistics of the training split, when it has them. */
  stats?: { split: "train"; json: string; meanImage: string };
  created: { at: string } & Record<string, unknown>;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function readSidecar(file: string): ShardSidecar {
  let sidecar: ShardSidecar;
  try {
    sidecar = JSON.parse(readFileSync(file, "utf8")) as ShardSidecar;
  } catch (err) {
    throw new Error(`${file} cannot be read as a shard sidecar (${(err as Error).message}); ${REDO_HINT}.`);
  }
  const ok =
    sidecar &&
    sidecar.format === "alexnet-shard" &&
    Number.isInteger(sidecar.records) &&
    Array.isArray(sidecar.labels) &&
    Array.isArray(sidecar.origins) &&
    sidecar.labels.length === sidecar.records &&
    sidecar.origins.length === sidecar.records &&
    typeof sidecar.sha256 === "string" &&
    Array.isArray(sidecar.recordShape);
  if (!ok) throw new Error(`${file} is not a valid shard sidecar (format "alexnet-shard", labels and origins for every record); ${REDO_HINT}.`);
  if (sidecar.version > FORMAT_VERSION) throw new Error(`${file} has format version ${sidecar.version}, newer than this code reads (${FORMAT_VERSION}); update the course code.`);
  return sidecar;
}

export function checkManifest(m: Manifest, where: string): void {
  const problems: string[] = [];
  if (m?.format !== "alexnet-dataset") problems.push(`format is ${JSON.stringify(m?.format)}, expected "alexnet-dataset"`);
  if (!Array.isArray(m?.classes) || m.classes.length === 0) problems.push("classes must be a non-empty list");
  if (!Array.isArray(m?.recordShape)) problems.push("recordShape is missing");
  else if (m.recordBytes !== recordBytes(m.recordShape)) problems.push(`recordBytes is ${m.recordBytes}, but recordShape ${m.recordShape.join("x")} needs ${recordBytes(m.recordShape)}`);
  for (const [name, split] of Object.entries(m?.splits ?? {})) {
    if (!SPLIT_NAMES.includes(name as SplitName)) problems.push(`unknown split ${JSON.stringify(name)}`);
    if (!split || !Array.isArray(split.shards)) {
      problems.push(`split ${name} has no shard list`);
      continue;
    }
    const sum = split.shards.reduce((s, e) => s + e.records, 0);
    if (sum !== split.count) problems.push(`split ${name} counts ${split.count} records but its shards hold ${sum}`);
  }
  if (problems.length) throw new Error(`${where} is not a valid dataset manifest: ${problems.join("; ")}.`);
  if (m.version > FORMAT_VERSION) throw new Error(`${where} has format version ${m.version}, newer than this code reads (${FORMAT_VERSION}); update the course code.`);
}

export interface DatasetInfo {
  classes: string[];
  classNames?: string[];
  /** Must equal the preprocessing every shard was written with. */
  preprocessing: Record<string, unknown>;
  /** Extra creation facts for the manifest (tool version, command line, ...); `at` is filled in. */
  created?: Record<string, unknown>;
  /** Shards each split must have. Without it, a split's shards must run from 0 to its highest index with no gap. */
  expectedShards?: Partial<Record<SplitName, number>>;
  /** Folders of workers that wrote elsewhere: their finished shards are moved into the dataset folder first. */
  from?: string[];
}

export const SIDECAR_NAME = /^(train|val)-(\d{5,})\.json$/;

/** A file a prepared dataset is made of (or one an interrupted prepare left, which the next run cleans up). */
export function isDatasetEntry(name: string): boolean {
  return [MANIFEST_FILE, STATS_FILE, MEAN_IMAGE_FILE].some((f) => name === f || name.startsWith(`${f}.tmp-`)) || /^(train|val)-\d{5,}\.(bin|json|sum\.f64)(\.tmp-.*)?$/.test(name);
}

/** The contents of stats.json; the mean image itself is in mean.f32. */
export interface StatsFile {
  format: "alexnet-stats";
  version: number;
  units: string;
  split: "train";
  shape: ImageShape;
  images: number;
  pixels: number;
  meanImage: { file: string; dtype: "<f4"; shape: ImageShape };
  channelMean: number[];
  covariance: number[][];
  eigenvalues: number[];
  eigenvectors: number[][];
  eigenvectorLayout: string;
}
