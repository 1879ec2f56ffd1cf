// Reads images sorted into class folders. Three layouts:
//   ROOT/<class>/*.jpg                     -> a train split only
//   ROOT/train/<class>, ROOT/val/<class>   -> train and val (Imagenette)
//   ROOT/train/<synset>, ROOT/val/*.JPEG   -> ImageNet: a flat val folder labelled by a file
// Listing reads folder entries only; load() reads one file's bytes when asked.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { DataSource, SourceRecord } from "../types";
import { compareNames, listFolder, pathKind, readTextFile } from "./files";
import { readSynsetWords } from "./names";

/** Extensions sharp decodes, compared lowercased. */
export const IMAGE_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif"];

/** Folder names taken as the val split next to ROOT/train. */
const VAL_FOLDERS = ["val", "validation"];
/** Files at ROOT used as class names when no --class-names is given. */
const AUTO_NAME_FILES = ["synset_words.txt", "LOC_synset_mapping.txt", "words.txt"];
/** Files at ROOT used to label a flat val folder when no --val-labels is given. */
const AUTO_LABEL_FILES = ["LOC_val_solution.csv"];

const EXPECTED = "--source must be a folder of class folders (ROOT/<class>/*.jpg) or ROOT/train + ROOT/val";

export interface ImageFolderOptions {
  /** Labels for a flat val folder (ImageNet): a LOC_val_solution.csv, or lines "<filename> <synset-or-index>". */
  valLabels?: string;
  /** A file of "<class-id> <words>" lines (synset_words.txt); found at ROOT by itself when named synset_words.txt, LOC_synset_mapping.txt or words.txt. */
  classNames?: string;
}

export interface SplitListing {
  records: SourceRecord[];
  skipped: { origin: string; reason: string }[];
}

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** Lists ROOT in one of the three layouts. Empty class folders keep their class (labels follow the folder list) and are noted in `skipped`. */
export async function openImageFolder(root: string, options: ImageFolderOptions = {}): Promise<DataSource> {
  const kind = await pathKind(root);
  if (kind === "missing") throw new Error(`${root}: no such folder; ${EXPECTED}`);
  if (kind !== "folder") throw new Error(`${root}: not a folder; ${EXPECTED}`);

  const top = await listFolder(root);
  const split = top.folders.includes("train");
  const trainDir = split ? path.join(root, "train") : root;
  const listing = split ? await listFolder(trainDir) : top;
  const classes = listing.folders;
  if (classes.length === 0) {
    const loose = listing.files.filter(isImageFile).length;
    const holds = loose > 0 ? ` (it holds ${loose} images directly)` : "";
    throw new Error(`${trainDir}: no class folders${holds}; ${EXPECTED}`);
  }

  const train = await listClassFolders(trainDir, classes, classes);
  const source: DataSource = { format: "imagefolder", classes, splits: { train: train.records } };
  const skipped = [...train.skipped];

  const valName = split ? VAL_FOLDERS.find((v) => top.folders.includes(v)) : undefined;
  if (valName !== undefined) {
    const valLabels = options.valLabels ?? (await firstExisting(root, AUTO_LABEL_FILES));
    const val = await listImageFolderVal(path.join(root, valName), classes, { valLabels });
    source.splits.val = val.records;
    skipped.push(...val.skipped);
  } else if (options.valLabels !== undefined) {
    throw new Error(`${root}: --val-labels given but there is no ${path.join(root, "val")} folder to label; give the val images with --val-source FOLDER`);
  }

  const namesFile = options.classNames ?? (await firstExisting(root, AUTO_NAME_FILES));
  if (namesFile !== undefined) {
    const names = await classNamesFrom(namesFile, classes, options.classNames !== undefined);
    if (names) source.classNames = names;
  }
  if (skipped.length > 0) source.skipped = skipped;
  return source;
}

/**
 * Lists a val folder against the train classes: either class folders (each must
 * be a train class) or a flat folder of images labelled by `valLabels`. Also used
 * for --val-source.
 */
export async function listImageFolderVal(dir: string, classes: string[], options: { valLabels?: string } = {}): Promise<SplitListing> {
  const kind = await pathKind(dir);
  const expected = "the val folder must hold class folders named like the train ones, or images plus --val-labels FILE";
  if (kind === "missing") throw new Error(`${dir}: no such folder; ${expected}`);
  if (kind !== "folder") throw new Error(`${dir}: not a folder; ${expected}`);
  const listing = await listFolder(dir);
  const images = listing.files.filter(isImageFile);

  if (listing.folders.length > 0) {
    const unknown = listing.folders.filter((c) => !classes.includes(c));
    if (unknown.length > 0) {
      throw new Error(
        `${path.join(dir, unknown[0])}: val class "${unknown[0]}" is not among the ${classes.length} train classes (${preview(classes)}); val class folders must also exist in train`,
      );
    }
    const result = await listClassFolders(dir, listing.folders, classes);
    for (const name of images) result.skipped.push({ origin: path.join(dir, name), reason: "image outside a class folder" });
    return result;
  }
  if (images.length === 0) throw new Error(`${dir}: holds no images and no class folders; ${expected}`);
  if (options.valLabels === undefined) {
    throw new Error(
      `${dir}: ${images.length} images but no class folders; give --val-labels FILE (LOC_val_solution.csv, or lines '<filename> <synset-or-index>')`,
    );
  }

  const labels = await readValLabels(options.valLabels, classes);
  const labelled: { label: number; name: string }[] = [];
  const skipped: SplitListing["skipped"] = [];
  for (const name of images) {
    const origin = path.join(dir, name);
    const found = labels.get(imageKey(name));
    if (found === undefined) skipped.push({ origin, reason: `no label in ${options.valLabels}` });
    else if (typeof found === "string") skipped.push({ origin, reason: found });
    else labelled.push({ label: found, name });
  }
  labelled.sort((a, b) => a.label - b.label || compareNames(a.name, b.name));
  return { records: labelled.map((l) => fileRecord(path.join(dir, l.name), l.label)), skipped };
}

/**
 * Reads a val labels file into image key -> label index, or -> the reason the
 * image is skipped. Two forms: CSV "ImageId,PredictionString" (Kaggle's
 * LOC_val_solution.csv; the first token is the synset), or whitespace lines
 * "<filename> <synset-or-index>" (Caffe's val.txt, Tiny ImageNet's
 * val_annotations.txt). An integer label is an index into the sorted `classes`.
 */
export async function readValLabels(file: string, classes: string[]): Promise<Map<string, number | string>> {
  const text = await readTextFile(file, "--val-labels must be a LOC_val_solution.csv or a file of '<filename> <synset-or-index>' lines");
  const index = new Map(classes.map((c, i) => [c, i] as [string, number]));
  const lines = text.split(/\r?\n/);
  const csv = (lines.find((l) => l.trim() !== "") ?? "").includes(",");
  const labels = new Map<string, number | string>();
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `${file}:${i + 1}`;
    let name: string;
    let label: string | undefined;
    if (csv) {
      if (i === 0 && /^imageid\s*,/i.test(line)) return;
      const comma = line.indexOf(",");
      name = line.slice(0, comma).trim();
      label = line.slice(comma + 1).trim().split(/\s+/)[0];
      if (comma < 0 || name === "" || !label) throw new Error(`${where}: expected 'ImageId,PredictionString' with a synset first, got "${line}"`);
    } else {
      const tokens = line.split(/\s+/);
      if (tokens.length < 2) throw new Error(`${where}: expected '<filename> <synset-or-index>', got "${line}"`);
      [name, label] = tokens;
    }
    const key = imageKey(name);
    if (/^\d+$/.test(label)) {
      const n = Number(label);
      if (n >= classes.length) {
        throw new Error(`${where}: class index ${n} but there are ${classes.length} train classes; integer labels index the sorted train class folders`);
      }
      labels.set(key, n);
    } else {
      const n = index.get(label);
      labels.set(key, n ?? `class "${label}" (from ${file}) is not among the train classes`);
    }
  });
  return labels;
}

/** Records of `folders` (a subset of `classes`), in class order then filename; an empty folder lands in `skipped`. */
async function listClassFolders(dir: string, folders: string[], classes: string[]): Promise<SplitListing> {
  const records: SourceRecord[] = [];
  const skipped: SplitListing["skipped"] = [];
  const ordered = [...folders].sort((a, b) => classes.indexOf(a) - classes.indexOf(b));
  for (const cls of ordered) {
    const classDir = path.join(dir, cls);
    const images = (await listFolder(classDir)).files.filter(isImageFile);
    if (images.length === 0) skipped.push({ origin: classDir, reason: "class folder holds no images; the class is kept so labels follow the folder list" });
    const label = classes.indexOf(cls);
    for (const name of images) records.push(fileRecord(path.join(classDir, name), label));
  }
  return { records, skipped };
}

function fileRecord(file: string, label: number): SourceRecord {
  return { label, origin: file, load: async () => ({ kind: "encoded", data: await fs.readFile(file) }) };
}

/** The name a labels file uses for an image: its basename, without an image extension (CSV ImageIds have none). */
function imageKey(name: string): string {
  const base = path.basename(name.replace(/\\/g, "/"));
  return isImageFile(base) ? base.slice(0, -path.extname(base).length) : base;
}

/** Class names in label order from an "id words" file; null when an auto-found file names none of the classes. */
async function classNamesFrom(file: string, classes: string[], explicit: boolean): Promise<string[] | null> {
  const words = await readSynsetWords(file);
  const known = classes.filter((c) => words.has(c)).length;
  if (known === 0) {
    if (!explicit) return null;
    throw new Error(`${file}: none of the class folders (${preview(classes)}) appear in it; --class-names must map folder names to words, one '<class-id> <words>' line each`);
  }
  return classes.map((c) => words.get(c) ?? c);
}

async function firstExisting(dir: string, names: string[]): Promise<string | undefined> {
  for (const name of names) {
    const p = path.join(dir, name);
    if ((await pathKind(p)) === "file") return p;
  }
  return undefined;
}

function preview(items: string[]): string {
  return items.length <= 5 ? items.join(", ") : `${items.slice(0, 5).join(", ")}, ...`;
}
