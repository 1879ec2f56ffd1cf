// The course's default dataset: ImageNet-like JPEGs drawn from a seed, so a
// fresh machine can train with nothing downloaded. A class is a shape with a
// surface pattern ("striped-disc"); colour, pose, size, clutter and lighting
// are random within a class, so a model must learn shape and texture, and the
// paper's crops, flips and PCA lighting have something to undo.
//
// Every image is a function of (seed, split, index) alone, so images can be made
// in any order and in parallel. This module holds the set: its options, class
// names, the DataSource, the image cache and the folder writer; drawing one
// picture is synthetic-scene.ts's job.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../files";
import { classParts, drawSyntheticImage, PATTERNS } from "./synthetic-scene";
import type { DataSource, SourceRecord, SplitName } from "./types";

export interface SyntheticOptions {
  /** Seed of the whole set; same seed, same bytes. */
  seed?: number;
  /** Number of classes, 2..SYNTHETIC_MAX_CLASSES. */
  classes?: number;
  trainPerClass?: number;
  valPerClass?: number;
  /** Best JPEG quality; each image draws its own from quality-15..quality, as photos vary. */
  quality?: number;
}

export const SYNTHETIC_DEFAULTS: Required<SyntheticOptions> = {
  seed: 1,
  classes: 10,
  trainPerClass: 260,
  valPerClass: 50,
  quality: 92,
};

export interface SyntheticImage {
  jpeg: Buffer;
  label: number;
  width: number;
  height: number;
}

export const SYNTHETIC_MAX_CLASSES = PATTERNS.length;

/**
 * The design of the set, stored in every manifest made from it: a prepared copy
 * of another design is stale. Design 1 (until 2026-12) made a class a shape
 * crossed with one of two patterns and placed the object anywhere in the frame;
 * a small AlexNet learnt the pattern in a few epochs but not the shape within a
 * laptop's budget, and the centre crop cut some objects out of their image.
 * Design 2: a class is an object with its own surface (as a zebra has its
 * stripes) and an outline it shares with one other class; the object is the
 * subject of the photo; clutter is never dressed in a class's pattern.
 */
export const SYNTHETIC_DESIGN = 2;

/** Class names in label order, e.g. "striped-disc", "spotted-star". */
export function syntheticClassNames(classes: number = SYNTHETIC_DEFAULTS.classes): string[] {
  checkInt("classes", classes, 2, SYNTHETIC_MAX_CLASSES);
  return Array.from({ length: classes }, (_, i) => {
    const { shape, pattern } = classParts(i);
    return `${pattern}-${shape}`;
  });
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `synthetic dataset (lib/data/synthetic.ts): option ${name} must be an integer from ${min} to ${max}, got ${value}; pass a value in that range.`,
    );
  }
}

function resolve(opts: SyntheticOptions): Required<SyntheticOptions> {
  const o: Required<SyntheticOptions> = { ...SYNTHETIC_DEFAULTS };
  for (const k of Object.keys(o) as (keyof SyntheticOptions)[]) if (opts[k] !== undefined) o[k] = opts[k] as number;
  checkInt("seed", o.seed, 0, 0xffffffff);
  checkInt("classes", o.classes, 2, SYNTHETIC_MAX_CLASSES);
  checkInt("trainPerClass", o.trainPerClass, 0, 1_000_000);
  checkInt("valPerClass", o.valPerClass, 0, 1_000_000);
  checkInt("quality", o.quality, 16, 100);
  return o;
}

/** Deterministic JPEG for (seed, split, index); label is index mod classes. */
export async function generateSyntheticImage(opts: SyntheticOptions, split: SplitName, index: number): Promise<SyntheticImage> {
  const o = resolve(opts);
  if (split !== "train" && split !== "val") throw new Error(`synthetic dataset (lib/data/synthetic.ts): split must be "train" or "val", got ${JSON.stringify(split)}.`);
  checkInt("index", index, 0, 0xffffffff);
  const label = index % o.classes;
  return { ...(await drawSyntheticImage(o.seed, split, index, label, o.quality)), label };
}

function originOf(seed: number, split: SplitName, index: number): string {
  return `synthetic:seed=${seed}/${split}/${String(index).padStart(6, "0")}`;
}

/** What a manifest records of a synthetic set (lib/data/prepare.ts's sourceDescription): the design and every option. */
export function syntheticDescription(opts: SyntheticOptions = {}): Record<string, unknown> {
  return { format: "synthetic", design: SYNTHETIC_DESIGN, ...resolve(opts) };
}

/**
 * The JPEG of (split, index) from `cacheDir` (cacheDir/<split>/<index>.jpg),
 * generated and stored there first if absent. Drawing an image costs about ten
 * times decoding it, and the notebooks prepare one set at several record sizes.
 * The caller owns the folder and must keep one set (one description) per folder.
 */
export async function cachedSyntheticImage(cacheDir: string, opts: SyntheticOptions, split: SplitName, index: number): Promise<Buffer> {
  const file = path.join(cacheDir, split, `${String(index).padStart(6, "0")}.jpg`);
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`synthetic image cache: cannot read ${file} (${(err as Error).message}); delete ${cacheDir} to draw the images again.`);
  }
  const { jpeg } = await generateSyntheticImage(opts, split, index);
  await mkdir(path.dirname(file), { recursive: true });
  // Renamed into place, so an interrupted write never leaves half a JPEG under the final name.
  await writeFileAtomic(file, jpeg);
  return jpeg;
}

/** The set as a DataSource; each record generates its image when loaded (or reads it from `cacheDir`, see cachedSyntheticImage). */
export function syntheticSource(opts: SyntheticOptions = {}, cacheDir?: string): DataSource {
  const o = resolve(opts);
  const records = (split: SplitName, perClass: number): SourceRecord[] =>
    Array.from({ length: perClass * o.classes }, (_, index) => ({
      label: index % o.classes,
      origin: originOf(o.seed, split, index),
      load: async () => ({ kind: "encoded" as const, data: cacheDir ? await cachedSyntheticImage(cacheDir, o, split, index) : (await generateSyntheticImage(o, split, index)).jpeg }),
    }));
  return {
    format: "synthetic",
    classes: syntheticClassNames(o.classes),
    splits: { train: records("train", o.trainPerClass), val: records("val", o.valPerClass) },
  };
}

/** Runs `task(i)` for i in [0, n) with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/**
 * Writes the set as an image folder, root/<split>/<class>/<index>.jpg, for
 * people who want files to look at. Existing files of the same name are replaced.
 */
export async function writeSyntheticImageFolder(
  root: string,
  opts: SyntheticOptions & { concurrency?: number } = {},
): Promise<{ train: number; val: number; seconds: number }> {
  const o = resolve(opts);
  const concurrency = opts.concurrency ?? 4;
  checkInt("concurrency", concurrency, 1, 256);
  const names = syntheticClassNames(o.classes);
  const start = process.hrtime.bigint();
  const counts = { train: 0, val: 0 };
  for (const [split, perClass] of [
    ["train", o.trainPerClass],
    ["val", o.valPerClass],
  ] as const) {
    for (const name of names) await mkdir(path.join(root, split, name), { recursive: true });
    await pool(perClass * o.classes, concurrency, async (index) => {
      const img = await generateSyntheticImage(o, split, index);
      await writeFile(path.join(root, split, names[img.label], `${String(index).padStart(6, "0")}.jpg`), img.jpeg);
      counts[split]++;
    });
  }
  return { ...counts, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
