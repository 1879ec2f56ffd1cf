// One batch of network input from record indices: read each record from its shard,
// augment it, write float32. The loader runs this on worker threads or in-process;
// everything it needs travels in a BatchRecipe, which is plain data so that it can
// be posted to a worker, and every random draw comes from (seed, epoch, index), so
// the bytes out do not depend on which thread made them.
import { closeSync, openSync, readSync } from "node:fs";
import path from "node:path";
import { cropRange, centerOffset, lightingOffset, presentationDraw, tenPatchPlaces, writeAugmented } from "./augment";
import type { CropWindow, PcaBasis } from "./augment";
import { type RgbAugmenter, createRgbAugmenter } from "./augment-wasm";
import { OpenFiles, ShardIndex, checkedLabel } from "./records";
import type { ImageShape } from "./stats";
import type { SplitName } from "./types";

/**
 * - "train": a random crop, mirrored half of the time, PCA lighting (section 4.1);
 * - "train-center": training without crops and reflections: the centre crop,
 *   never mirrored, PCA lighting as "train" (the ablation of section 4.1's first form);
 * - "center": the centre crop, for quick validation;
 * - "ten-crop": the ten test patches of each image, one after another (section 4.1);
 * - "none": the whole record, no crop.
 * Every mode subtracts the mean the recipe gives.
 */
export type AugmentMode = "train" | "train-center" | "center" | "ten-crop" | "none";
export const AUGMENT_MODES: readonly AugmentMode[] = ["train", "train-center", "center", "ten-crop", "none"];

/** Whether a mode is for training: shuffled, the last short batch dropped, PCA lighting allowed. */
export function isTrainingMode(mode: AugmentMode): boolean {
  return mode === "train" || mode === "train-center";
}

/** What a worker needs to make batches; structured-clonable. */
export interface BatchRecipe {
  dir: string;
  split: SplitName;
  /** The split's shards in order, as in the manifest. */
  shards: { file: string; records: number }[];
  recordShape: ImageShape;
  recordBytes: number;
  /** Classes in the dataset: a stored label outside 0..classes-1 means a damaged shard. */
  classes: number;
  augment: AugmentMode;
  /** Side of the square crop; ignored by "none". */
  crop: number;
  seed: number;
  /** Per-pixel mean image (H*W*C), per-channel mean (C), or none. */
  mean?: Float32Array;
  /** PCA lighting, training modes only: alpha ~ N(0, alphaStd) along each component of basis. */
  lighting?: { alphaStd: number; basis: PcaBasis };
}

/** Images the network sees per record: 10 for "ten-crop", else 1. */
export function viewsPerImage(mode: AugmentMode): number {
  return mode === "ten-crop" ? 10 : 1;
}

/** [height, width, channels] of one output image. */
export function outputShape(recipe: Pick<BatchRecipe, "augment" | "crop" | "recordShape">): ImageShape {
  const [h, w, c] = recipe.recordShape;
  if (recipe.augment === "none") return [h, w, c];
  cropRange(h, w, recipe.crop);
  return [recipe.crop, recipe.crop, c];
}

/** Reads records by index with synchronous reads into a caller's buffer: no allocation per record. */
export class RecordFiles {
  private readonly index: ShardIndex;
  private readonly fds: OpenFiles<number>;
  readonly length: number;

  constructor(
    private readonly dir: string,
    private readonly shards: { file: string; records: number }[],
    private readonly recordBytes: number,
    /** When given, each label read is checked against it (checkedLabel). */
    private readonly classes?: number,
    maxOpen = 64,
  ) {
    this.index = new ShardIndex(shards);
    this.length = this.index.length;
    this.fds = new OpenFiles<number>(
      maxOpen,
      (file) => {
        try {
          return openSync(file, "r");
        } catch (err) {
          throw new Error(`cannot open ${file} (${(err as Error).message}); check the dataset with Dataset.verify() or prepare it again.`);
        }
      },
      closeSync,
    );
  }

  /** Copies record `index` (int32 label, then pixels) into `into` at `offset`; returns the label. */
  read(index: number, into: Uint8Array, offset = 0): number {
    const [shard, j] = this.index.locate(index);
    const file = path.join(this.dir, this.shards[shard].file);
    const lease = this.fds.acquire(file);
    try {
      const position = j * this.recordBytes;
      let done = 0;
      while (done < this.recordBytes) {
        const n = readSync(lease.handle, into, offset + done, this.recordBytes - done, position + done);
        if (n === 0) throw new Error(`${file} ended before record ${index}: the shard is truncated; delete it, its .json and manifest.json, and prepare again.`);
        done += n;
      }
    } finally {
      lease.release();
    }
    const label = into[offset] | (into[offset + 1] << 8) | (into[offset + 2] << 16) | (into[offset + 3] << 24);
    return this.classes === undefined ? label : checkedLabel(label, this.classes, file, index);
  }

  close(): void {
    this.fds.closeAll();
  }
}

/** Makes batches for one recipe; holds one record's worth of staging memory and the open shards. */
export class BatchMaker {
  private readonly files: RecordFiles;
  private readonly stage: Uint8Array;
  /** RGB records go through the WebAssembly loop (same bits, about twice as fast); the stage is then its memory. */
  private readonly fast: RgbAugmenter | undefined;
  readonly imageShape: ImageShape;
  readonly views: number;

  constructor(
    readonly recipe: BatchRecipe,
    /** false: the JavaScript loop only (the benchmark's baseline; tests compare the two). */
    simd = true,
  ) {
    this.files = new RecordFiles(recipe.dir, recipe.shards, recipe.recordBytes, recipe.classes);
    this.fast = simd ? createRgbAugmenter(recipe.recordShape, 4, recipe.mean) : undefined;
    this.stage = this.fast?.record ?? new Uint8Array(recipe.recordBytes);
    this.imageShape = outputShape(recipe);
    this.views = viewsPerImage(recipe.augment);
  }

  /** Float32 values of a batch of n records: n * views * height * width * channels. */
  batchLength(n: number): number {
    const [h, w, c] = this.imageShape;
    return n * this.views * h * w * c;
  }

  /**
   * Reads and augments the records `indices` as presented in `epoch`. Writes into
   * `images` when given (it must hold exactly batchLength(n) values), else allocates.
   */
  make(epoch: number, indices: ArrayLike<number>, images?: Float32Array): { images: Float32Array; labels: Int32Array } {
    const r = this.recipe;
    const [H, W, C] = r.recordShape;
    const [h, w] = this.imageShape;
    const n = indices.length;
    const out = images ?? new Float32Array(this.batchLength(n));
    if (out.length !== this.batchLength(n)) throw new Error(`BatchMaker.make: the output buffer holds ${out.length} values, a batch of ${n} needs ${this.batchLength(n)}.`);
    const labels = new Int32Array(n);
    const size = h * w * C;
    const range = cropRange(H, W, h);
    const places = r.augment === "ten-crop" ? tenPatchPlaces(H, W, r.crop) : undefined;
    const center: CropWindow = r.augment === "none" ? { x: 0, y: 0, height: H, width: W, flip: false } : { x: centerOffset(W, w), y: centerOffset(H, h), height: h, width: w, flip: false };
    for (let i = 0; i < n; i++) {
      const index = indices[i];
      labels[i] = this.files.read(index, this.stage);
      if (isTrainingMode(r.augment)) {
        const draw = presentationDraw(r.seed, epoch, index, range, r.lighting?.alphaStd ?? 0, C);
        const shift = r.lighting ? lightingOffset(r.lighting.basis, draw.alphas) : undefined;
        const window = r.augment === "train" ? { x: draw.x, y: draw.y, height: h, width: w, flip: draw.flip } : center;
        this.write(window, shift, out, i * size);
      } else if (places) {
        for (let v = 0; v < places.length; v++) {
          const p = places[v];
          this.write({ x: p.x, y: p.y, height: h, width: w, flip: p.flip }, undefined, out, (i * places.length + v) * size);
        }
      } else {
        this.write(center, undefined, out, i * size);
      }
    }
    return { images: out, labels };
  }

  /** The staged record's window into out at offset. */
  private write(window: CropWindow, shift: number[] | undefined, out: Float32Array, offset: number): void {
    if (this.fast) this.fast.write(window, shift, out, offset);
    else writeAugmented(this.stage, 4, this.recipe.recordShape, window, shift, this.recipe.mean, out, offset);
  }

  close(): void {
    this.files.close();
  }
}
