// Picks the reader for `alexnet prepare --format`, then applies what is the
// same for every format: a val split from a second path (--val-source) and
// a cap on records per class (--limit-per-class).
import type { DataSource, SourceRecord, SplitName } from "../types";
import { syntheticSource, type SyntheticOptions } from "../synthetic";
import { openCifar10, openCifar100 } from "./cifar10";
import { openIdx } from "./idx";
import { listImageFolderVal, openImageFolder } from "./imagefolder";

export const SOURCE_FORMATS = ["imagefolder", "cifar10", "cifar100", "idx", "synthetic"] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

export interface OpenSourceOptions {
  /** A second path of the same format whose records become the val split (its val split if it has one, else its train split). */
  valSource?: string;
  /** imagefolder only: labels for a flat val folder (LOC_val_solution.csv, or "<filename> <synset-or-index>" lines). */
  valLabels?: string;
  /** imagefolder: "<class-id> <words>" lines; cifar10, cifar100, idx: one name per line in label order. */
  classNames?: string;
  /** Keep the first N records of each class in each split. */
  limitPerClass?: number;
  /** synthetic only: the generator's options (the path is ignored). */
  synthetic?: SyntheticOptions;
}

export function isSourceFormat(format: string): format is SourceFormat {
  return (SOURCE_FORMATS as readonly string[]).includes(format);
}

/** Opens `path` as a dataset of `format`; lists records without reading pixels. */
export async function openSource(format: string, path: string, options: OpenSourceOptions = {}): Promise<DataSource> {
  if (!isSourceFormat(format)) throw new Error(`unknown --format "${format}"; use one of: ${SOURCE_FORMATS.join(", ")}`);
  if (options.valLabels !== undefined && format !== "imagefolder") throw new Error(`--val-labels applies only to --format imagefolder, not ${format}`);
  if (options.limitPerClass !== undefined && !(Number.isInteger(options.limitPerClass) && options.limitPerClass > 0)) {
    throw new Error(`--limit-per-class must be a positive integer, got ${options.limitPerClass}`);
  }
  if (format === "synthetic" && (options.valSource !== undefined || options.classNames !== undefined)) {
    throw new Error("--val-source and --class-names do not apply to --format synthetic");
  }

  let source: DataSource;
  if (format === "synthetic") {
    source = syntheticSource(options.synthetic);
  } else if (format === "imagefolder") {
    // With --val-source, ROOT/val is not read: the given val path replaces it.
    source = await openImageFolder(path, { classNames: options.classNames, valLabels: options.valSource === undefined ? options.valLabels : undefined });
    if (options.valSource !== undefined) {
      const val = await listImageFolderVal(options.valSource, source.classes, { valLabels: options.valLabels });
      source = withVal(source, val.records, val.skipped);
    }
  } else {
    const open = format === "cifar10" ? openCifar10 : format === "cifar100" ? openCifar100 : openIdx;
    source = await open(path, { classNames: options.classNames });
    if (options.valSource !== undefined) {
      const other = await open(options.valSource, { classNames: options.classNames });
      source = withVal(source, relabel(other, source.classes, options.valSource, path), other.skipped ?? []);
    }
  }

  if (options.limitPerClass !== undefined) {
    const splits: DataSource["splits"] = {};
    for (const name of Object.keys(source.splits) as SplitName[]) {
      const records = source.splits[name];
      if (records) splits[name] = limitPerClass(records, options.limitPerClass);
    }
    source = { ...source, splits };
  }
  return source;
}

/** The first `n` records of each label, in their original order. */
export function limitPerClass(records: SourceRecord[], n: number): SourceRecord[] {
  const seen = new Map<number, number>();
  return records.filter((r) => {
    const count = seen.get(r.label) ?? 0;
    seen.set(r.label, count + 1);
    return count < n;
  });
}

function withVal(source: DataSource, val: SourceRecord[], skipped: { origin: string; reason: string }[]): DataSource {
  const allSkipped = [...(source.skipped ?? []), ...skipped];
  const out: DataSource = { ...source, splits: { ...source.splits, val } };
  if (allSkipped.length > 0) out.skipped = allSkipped;
  return out;
}

/** The val records of `other` with labels renumbered to `classes`; every class of `other` must be one of them. */
function relabel(other: DataSource, classes: string[], otherPath: string, mainPath: string): SourceRecord[] {
  const mapping = other.classes.map((c) => classes.indexOf(c));
  const unknown = other.classes.filter((_, i) => mapping[i] < 0);
  if (unknown.length > 0) {
    throw new Error(`${otherPath}: class "${unknown[0]}" is not among the classes of ${mainPath} (${classes.slice(0, 10).join(", ")}${classes.length > 10 ? ", ..." : ""}); --val-source must have the same classes`);
  }
  const records = other.splits.val ?? other.splits.train ?? [];
  return records.map((r) => ({ label: mapping[r.label], origin: r.origin, load: r.load }));
}
