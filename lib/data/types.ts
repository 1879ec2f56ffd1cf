// The shapes data takes on its way from a source to the shards.

/** An image as a source hands it over, before preprocessing. */
export type SourceImage =
  /** Encoded bytes (JPEG, PNG, WebP, ...), decoded by sharp. */
  | { kind: "encoded"; data: Buffer }
  /** Raw pixels, row-major HWC, 8-bit, 1 or 3 channels (CIFAR-10, IDX). */
  | { kind: "raw"; data: Uint8Array; width: number; height: number; channels: 1 | 3 };

/** One example of a source: its label, where it came from, and how to get its pixels. */
export interface SourceRecord {
  /** Index of the class in the source's `classes`. */
  label: number;
  /** Where the record came from, for reports and the manifest: a file path, or e.g. "data_batch_1.bin#1234". */
  origin: string;
  /** Reads (or generates) the image. May reject: bad files are reported, not fatal. */
  load(): Promise<SourceImage>;
}

export type SplitName = "train" | "val";

export interface DataSource {
  /** Format name as given to `alexnet prepare --format`. */
  format: string;
  /** Class ids in label order (ImageNet synsets, folder names, "airplane", "0", ...). */
  classes: string[];
  /** Human-readable names in label order, when known (e.g. synset words). */
  classNames?: string[];
  /** The records of each split the source has. A source may lack `val`. */
  splits: Partial<Record<SplitName, SourceRecord[]>>;
  /** Records the source itself refused while listing (e.g. a file with no class), with reasons. */
  skipped?: { origin: string; reason: string }[];
}
