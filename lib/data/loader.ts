// The input pipeline: shuffled, augmented float32 batches streamed from the shards,
// made ahead of time on worker threads so that a training step does not wait for
// its data. Batches are plain arrays (NHWC float32 and int32 labels), so this
// module does not depend on a TensorFlow engine; lib/data/tensors.ts converts.
//
// Determinism: epoch e visits the records in an order drawn from (seed, e), and a
// record's crop, reflection and lighting come from (seed, e, index). Neither depends
// on the number of workers, the prefetch depth or where a run started, so a run
// resumed at (epoch, step) sees exactly the batches an uninterrupted run would.
import os from "node:os";
import path from "node:path";
import type { Worker } from "node:worker_threads";
import { LIGHTING_SCALES, lightingBasis } from "./augment";
import type { LightingScale } from "./augment";
import { AUGMENT_MODES, type AugmentMode, BatchMaker, type BatchRecipe, isTrainingMode, outputShape, viewsPerImage } from "./batches";
import type { WorkerJob, WorkerReply } from "./loader-worker";
import { hashSeed, permutation } from "./random";
import { SPLIT_NAMES } from "./shard-format";
import { Dataset, openDataset } from "./shards";
import { startTsWorker } from "./ts-worker";
import type { ImageShape } from "./stats";
import type { SplitName } from "./types";

/** What is subtracted: the per-pixel mean image (the paper), the per-channel mean, or nothing. */
export type MeanMode = "image" | "channel" | "none";
export const MEAN_MODES: readonly MeanMode[] = ["image", "channel", "none"];

export interface LoaderOptions {
  /** Default "train". */
  split?: SplitName;
  batchSize: number;
  /** Side of the square crop. Default: the paper's 224/256 of the record side (224 for 256x256 records). Caffe uses 227. */
  crop?: number;
  /** Default "train" on the train split, "center" on val. */
  augment?: AugmentMode;
  /** Seed of the shuffle and of every augmentation draw. Default 0. */
  seed?: number;
  /** First epoch (counting from 0). Default 0. */
  epoch?: number;
  /** First step within the first epoch, to resume a run. Default 0. */
  step?: number;
  /** Epochs to stream; Infinity streams until the loop stops. Default 1. */
  epochs?: number;
  /** New order every epoch. Default: true for the training modes ("train", "train-center"), else false (records in split order). */
  shuffle?: boolean;
  /** Leave out the last, smaller batch of an epoch. Default: true for the training modes, else false. */
  dropLast?: boolean;
  /** Batches made ahead of the consumer. Default 2 per worker (at least 2). Ignored with workers: 0. */
  prefetch?: number;
  /** Worker threads; 0 makes batches in-process, on demand. Default: cores - 1, from 1 to 4. */
  workers?: number;
  /** Default "image", the paper's per-pixel mean of the training set. */
  mean?: MeanMode;
  /** Std of the PCA lighting alphas, training modes only; 0 turns it off. Default 0.1 (the paper). */
  lighting?: number;
  /** How alpha scales each principal component; see LightingScale. Default "stddev". */
  lightingScale?: LightingScale;
}

export type ResolvedLoaderOptions = Required<LoaderOptions>;

/** One batch: NHWC float32 images and their labels, in the order of `indices`. */
export interface Batch {
  /** shape[0] * shape[1] * shape[2] * shape[3] values, NHWC. With "ten-crop", image i's ten patches are rows 10i..10i+9. */
  images: Float32Array;
  shape: [number, number, number, number];
  /** One label per record (not per patch). */
  labels: Int32Array;
  /** Record indices in the split. */
  indices: Int32Array;
  /** Images per record: 10 for "ten-crop", else 1. */
  views: number;
  epoch: number;
  /** Step within the epoch, from 0. */
  step: number;
  /**
   * Gives the memory of `images` back at once, for a later batch to be written into.
   * Without it the memory comes back only when `images` is garbage collected, and
   * meanwhile the loader copies batches out (slower). Do not read `images` afterwards
   * (nor a tensor that still refers to it: release after disposing it). A view made
   * with images.subarray() does not keep the memory: copy with slice() to keep it.
   */
  release(): void;
}

/** Where a stream starts and how long it runs; defaults come from the loader's options. */
export interface StreamRange {
  epoch?: number;
  step?: number;
  epochs?: number;
}

/** Batches in an epoch of `size` records. */
export function stepsPerEpoch(size: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/** The order records are visited in epoch `epoch`: a permutation drawn from (seed, epoch), or 0..size-1. */
export function epochOrder(size: number, seed: number, epoch: number, shuffle: boolean): Int32Array {
  if (!shuffle) return Int32Array.from({ length: size }, (_, i) => i);
  return permutation(size, hashSeed(seed, epoch));
}

function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`createLoader: option ${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}, got ${value}.`);
  }
}

function defaultWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

// ---------------------------------------------------------------- worker threads

// The worker runs loader-worker.ts, which is TypeScript: ts-worker.ts starts it.
const WORKER_ENTRY = path.join(__dirname, "loader-worker.ts");

/** Shared memory for one full batch, reused from batch to batch. */
interface Slot {
  id: number;
  memory: SharedArrayBuffer;
}

/**
 * The memory batches are written into. Workers write a batch into a slot; the
 * consumer gets the slot itself ("lent") until it calls release() or its images
 * array is garbage collected, so a batch is never overwritten while anything can
 * still read it. Reusing slots matters: a fresh buffer per batch costs page faults,
 * and transferring one detaches ArrayBuffers, which slows typed-array code (see
 * loader-worker.ts). Shared memory does not urge V8 to collect garbage, though, so
 * only a few slots are lent at a time; past that, a batch is copied out into an
 * ordinary array and its slot reused at once, which keeps memory bounded for a
 * consumer that never calls release().
 */
class SlotPool {
  private readonly free: Slot[] = [];
  private nextId = 0;
  private lentOut = 0;
  private readonly registry = new FinalizationRegistry<Slot>((slot) => this.returned(slot));

  constructor(
    private readonly floats: number,
    /** Free slots kept; more are let go (and onDrop tells the workers to let go too). */
    private readonly keep: number,
    private readonly maxLent: number,
    private readonly onDrop: (id: number) => void = () => undefined,
  ) {}

  take(): Slot {
    return this.free.pop() ?? { id: this.nextId++, memory: new SharedArrayBuffer(this.floats * 4) };
  }

  /** The first `length` values of `slot` for the consumer, and the release function (a no-op for a copy). */
  handOut(slot: Slot, length: number): { images: Float32Array; release: () => void } {
    const view = new Float32Array(slot.memory, 0, length);
    if (this.lentOut >= this.maxLent) {
      const images = view.slice();
      this.give(slot);
      return { images, release: () => undefined };
    }
    this.lentOut++;
    const token = {};
    this.registry.register(view, slot, token);
    return {
      images: view,
      release: () => {
        this.registry.unregister(token);
        this.returned(slot);
      },
    };
  }

  private returned(slot: Slot): void {
    this.lentOut--;
    this.give(slot);
  }

  give(slot: Slot): void {
    if (this.free.length < this.keep) this.free.push(slot);
    else this.onDrop(slot.id);
  }
}

interface Waiting {
  thread: Thread;
  resolve: (labels: Int32Array) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  pending: number;
  /** Slots this worker has been given (it keeps a view of each). */
  slots: Set<number>;
}

/**
 * Worker threads that make batches. A worker keeps the process alive only while it
 * has work, so a loader that is dropped without close() does not hang the program.
 */
class WorkerPool {
  private readonly threads: Thread[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private broken: Error | undefined;
  private closing = false;

  get closed(): boolean {
    return this.closing;
  }

  constructor(recipe: BatchRecipe, count: number) {
    for (let i = 0; i < count; i++) {
      const worker = startTsWorker(WORKER_ENTRY, { recipe }, { caller: "createLoader", fallback: "pass workers: 0", name: "loader worker" });
      worker.unref();
      const thread: Thread = { worker, pending: 0, slots: new Set() };
      worker.on("message", (reply: WorkerReply) => this.settle(thread, reply));
      worker.on("error", (err: Error) => this.fail(new Error(`loader worker ${i} failed: ${err.message}`)));
      worker.on("exit", (code: number) => {
        if (!this.closing) this.fail(new Error(`loader worker ${i} exited with code ${code} while batches were pending`));
      });
      this.threads.push(thread);
    }
  }

  /** Makes a batch into `slot`; resolves to its labels. */
  run(epoch: number, indices: Int32Array, slot: Slot): Promise<Int32Array> {
    if (this.broken) return Promise.reject(this.broken);
    let thread = this.threads[0];
    for (const t of this.threads) if (t.pending < thread.pending) thread = t;
    const id = this.nextId++;
    const job: WorkerJob = { id, epoch, indices, slot: slot.id };
    if (!thread.slots.has(slot.id)) {
      job.memory = slot.memory; // shared, not copied; sent once per worker
      thread.slots.add(slot.id);
    }
    const result = new Promise<Int32Array>((resolve, reject) => this.waiting.set(id, { thread, resolve, reject }));
    if (thread.pending++ === 0) thread.worker.ref();
    thread.worker.postMessage(job);
    return result;
  }

  /** The pool let slot `id` go: workers drop their view of it. */
  forget(id: number): void {
    if (this.closing) return; // a slot can come back (garbage collected) after the stream ended
    for (const t of this.threads) {
      if (t.slots.delete(id)) t.worker.postMessage({ forget: id });
    }
  }

  private settle(thread: Thread, reply: WorkerReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (--thread.pending === 0) thread.worker.unref();
    if ("error" in reply) w.reject(new Error(reply.error));
    else w.resolve(reply.labels);
  }

  private fail(err: Error): void {
    if (this.broken || this.closing) return;
    this.broken = err;
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id);
      w.reject(err);
    }
    void this.close();
  }

  async close(): Promise<void> {
    this.closing = true;
    const closed = new Error("the loader was closed");
    for (const w of this.waiting.values()) w.reject(closed);
    this.waiting.clear();
    await Promise.all(this.threads.map((t) => t.worker.terminate().catch(() => 0)));
  }
}

// ---------------------------------------------------------------- the loader

interface Job {
  epoch: number;
  step: number;
  indices: Int32Array;
}

/** Streams batches of one split; iterate it with `for await`, or call batches() for another range. */
export class Loader implements AsyncIterable<Batch> {
  /** Records in the split. */
  readonly size: number;
  readonly stepsPerEpoch: number;
  /** [height, width, channels] of one image in a batch. */
  readonly imageShape: ImageShape;
  readonly views: number;
  readonly classes: string[];
  private readonly pools = new Set<WorkerPool>();
  private readonly makers = new Set<BatchMaker>();

  constructor(
    readonly dataset: Dataset,
    readonly options: Readonly<ResolvedLoaderOptions>,
    /** What each worker gets: paths, shapes, mean image, lighting basis, seed. */
    readonly recipe: BatchRecipe,
    private readonly ownsDataset: boolean,
  ) {
    this.size = dataset.split(options.split).length;
    this.stepsPerEpoch = stepsPerEpoch(this.size, options.batchSize, options.dropLast);
    this.imageShape = outputShape(recipe);
    this.views = viewsPerImage(recipe.augment);
    this.classes = dataset.classes;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    return this.batches();
  }

  /** The batches from (epoch, step) for `epochs` epochs; workers start now and stop when the loop ends or breaks. */
  batches(range: StreamRange = {}): AsyncGenerator<Batch, void, undefined> {
    const epoch = range.epoch ?? this.options.epoch;
    // A range that names its own epoch starts at its step 0 unless it says otherwise.
    const step = range.step ?? (range.epoch !== undefined ? 0 : this.options.step);
    const epochs = range.epochs ?? this.options.epochs;
    checkInt("epoch", epoch, 0);
    checkInt("step", step, 0);
    if (step >= this.stepsPerEpoch) throw new Error(`createLoader: step ${step} is past the end of an epoch, which has ${this.stepsPerEpoch} steps (0..${this.stepsPerEpoch - 1}); start at step 0 of epoch ${epoch + 1} instead.`);
    if (epochs !== Infinity) checkInt("epochs", epochs, 1);
    return this.stream(epoch, step, epochs);
  }

  private *schedule(epoch: number, step: number, epochs: number): Generator<Job, void, undefined> {
    const { batchSize, seed, shuffle } = this.options;
    for (let e = epoch; e < epoch + epochs; e++) {
      const order = epochOrder(this.size, seed, e, shuffle);
      for (let s = e === epoch ? step : 0; s < this.stepsPerEpoch; s++) {
        // slice, not subarray: a view would post the whole order to the worker.
        yield { epoch: e, step: s, indices: order.slice(s * batchSize, Math.min((s + 1) * batchSize, this.size)) };
      }
    }
  }

  private async *stream(epoch: number, step: number, epochs: number): AsyncGenerator<Batch, void, undefined> {
    const jobs = this.schedule(epoch, step, epochs);
    const [h, w, c] = this.imageShape;
    const perRecord = this.views * h * w * c;
    let pool: WorkerPool | undefined;
    // The consumer may hold the current batch and the one before (say, while a step runs).
    const slots = new SlotPool(this.options.batchSize * perRecord, this.options.prefetch + 3, 2, (id) => pool?.forget(id));
    const batch = (job: Job, slot: Slot, labels: Int32Array): Batch => {
      const { images, release } = slots.handOut(slot, job.indices.length * perRecord);
      let released = false;
      return {
        images,
        shape: [job.indices.length * this.views, h, w, c],
        labels,
        indices: job.indices,
        views: this.views,
        epoch: job.epoch,
        step: job.step,
        release: () => {
          if (released) return;
          released = true;
          release();
        },
      };
    };

    if (this.options.workers === 0) {
      const maker = new BatchMaker(this.recipe);
      this.makers.add(maker);
      try {
        for (const job of jobs) {
          if (!this.makers.has(maker)) throw new Error("the loader was closed");
          const slot = slots.take();
          const { labels } = maker.make(job.epoch, job.indices, new Float32Array(slot.memory, 0, job.indices.length * perRecord));
          yield batch(job, slot, labels);
        }
      } finally {
        this.makers.delete(maker);
        maker.close();
      }
      return;
    }

    pool = new WorkerPool(this.recipe, this.options.workers);
    const workers = pool;
    this.pools.add(workers);
    const ahead: { job: Job; slot: Slot; labels: Promise<Int32Array> }[] = [];
    const fill = (): void => {
      while (ahead.length < this.options.prefetch) {
        const next = jobs.next();
        if (next.done) return;
        const job = next.value as Job; // not done, so a Job (tslab's non-strict compiler does not narrow on done)
        const slot = slots.take();
        const labels = workers.run(job.epoch, job.indices, slot);
        labels.catch(() => undefined); // a batch the consumer never reaches must not be an unhandled rejection
        ahead.push({ job, slot, labels });
      }
    };
    try {
      fill();
      while (ahead.length > 0) {
        const { job, slot, labels } = ahead.shift() as (typeof ahead)[number];
        const made = await labels;
        if (workers.closed) throw new Error("the loader was closed");
        fill(); // before yielding, so the workers carry on while the consumer trains
        yield batch(job, slot, made);
      }
    } finally {
      this.pools.delete(workers);
      await workers.close();
    }
  }

  /** Stops every worker of this loader's streams and closes their files (they also stop when a loop ends or breaks). */
  async close(): Promise<void> {
    for (const maker of this.makers) maker.close();
    this.makers.clear();
    const pools = [...this.pools];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
    if (this.ownsDataset) await this.dataset.close();
  }
}

/**
 * A loader over one split of a prepared dataset (a folder, or a Dataset already open).
 * Train: `createLoader(dir, { batchSize: 128, seed: 1, epochs: 90 })`; validation
 * with the ten patches: `createLoader(dir, { split: "val", batchSize: 50, augment: "ten-crop" })`.
 */
export function createLoader(source: string | Dataset, options: LoaderOptions): Loader {
  const dataset = typeof source === "string" ? openDataset(source) : source;
  if (!(dataset instanceof Dataset)) throw new Error("createLoader: pass a prepared dataset's folder or a Dataset from openDataset().");
  const split = options.split ?? "train";
  if (!SPLIT_NAMES.includes(split)) throw new Error(`createLoader: option split must be one of ${SPLIT_NAMES.join(", ")}, got ${JSON.stringify(split)}.`);
  const reader = dataset.split(split);
  const [H, W, C] = dataset.recordShape;
  const augment = options.augment ?? (split === "train" ? "train" : "center");
  if (!AUGMENT_MODES.includes(augment)) throw new Error(`createLoader: option augment must be one of ${AUGMENT_MODES.join(", ")}, got ${JSON.stringify(augment)}.`);
  const training = isTrainingMode(augment);
  const workers = options.workers ?? defaultWorkers();
  const resolved: ResolvedLoaderOptions = {
    split,
    batchSize: options.batchSize,
    crop: options.crop ?? (augment === "none" ? Math.min(H, W) : Math.round((224 / 256) * Math.min(H, W))),
    augment,
    seed: options.seed ?? 0,
    epoch: options.epoch ?? 0,
    step: options.step ?? 0,
    epochs: options.epochs ?? 1,
    shuffle: options.shuffle ?? training,
    dropLast: options.dropLast ?? training,
    prefetch: options.prefetch ?? Math.max(2, 2 * workers),
    workers,
    mean: options.mean ?? "image",
    lighting: options.lighting ?? (training ? 0.1 : 0),
    lightingScale: options.lightingScale ?? "stddev",
  };
  checkInt("batchSize", resolved.batchSize, 1);
  checkInt("seed", resolved.seed, 0, 0xffffffff);
  checkInt("workers", resolved.workers, 0, 64);
  checkInt("prefetch", resolved.prefetch, 1);
  if (augment !== "none") {
    checkInt("crop", resolved.crop, 1);
    if (resolved.crop > Math.min(H, W)) throw new Error(`createLoader: option crop ${resolved.crop} is larger than the ${H}x${W} records of ${dataset.dir}; pass a crop of at most ${Math.min(H, W)} (the paper takes 224 from 256).`);
  } else if (options.crop !== undefined && options.crop !== Math.min(H, W)) {
    throw new Error(`createLoader: augment "none" gives whole ${H}x${W} records, so option crop (${options.crop}) does not apply; leave it out, or use augment "center".`);
  }
  if (!MEAN_MODES.includes(resolved.mean)) throw new Error(`createLoader: option mean must be one of ${MEAN_MODES.join(", ")}, got ${JSON.stringify(resolved.mean)}.`);
  if (!LIGHTING_SCALES.includes(resolved.lightingScale)) throw new Error(`createLoader: option lightingScale must be one of ${LIGHTING_SCALES.join(", ")}, got ${JSON.stringify(resolved.lightingScale)}.`);
  if (!(Number.isFinite(resolved.lighting) && resolved.lighting >= 0)) throw new Error(`createLoader: option lighting (the alpha std) must be a number >= 0, got ${resolved.lighting}.`);
  if (resolved.lighting > 0 && !training) throw new Error(`createLoader: PCA lighting is a training augmentation; option lighting applies only with augment "train" or "train-center" (got "${augment}"). Leave it out.`);

  const needsStats = resolved.mean !== "none" || resolved.lighting > 0;
  if (needsStats && !dataset.manifest.stats) {
    throw new Error(`createLoader: ${dataset.dir} has no training statistics, which mean "${resolved.mean}"${resolved.lighting > 0 ? " and PCA lighting" : ""} need; prepare the dataset with a train split, or pass mean: "none" and lighting: 0.`);
  }
  const stats = needsStats ? dataset.statistics() : undefined;
  let mean: Float32Array | undefined;
  if (stats && resolved.mean === "image") mean = stats.meanImage;
  else if (stats && resolved.mean === "channel") mean = Float32Array.from(stats.channelMean);
  let lighting: BatchRecipe["lighting"];
  if (stats && resolved.lighting > 0) {
    if (stats.eigenvalues.length !== C) throw new Error(`createLoader: the statistics have ${stats.eigenvalues.length} principal components but the records have ${C} channels; prepare the dataset again.`);
    lighting = { alphaStd: resolved.lighting, basis: lightingBasis(stats, resolved.lightingScale) };
  }
  const recipe: BatchRecipe = {
    dir: dataset.dir,
    split,
    shards: (dataset.manifest.splits[split]?.shards ?? []).map((s) => ({ file: s.file, records: s.records })),
    recordShape: [H, W, C],
    recordBytes: dataset.recordBytes,
    classes: dataset.classes.length,
    augment,
    crop: resolved.crop,
    seed: resolved.seed,
    ...(mean ? { mean } : {}),
    ...(lighting ? { lighting } : {}),
  };
  const steps = stepsPerEpoch(reader.length, resolved.batchSize, resolved.dropLast);
  if (steps === 0) throw new Error(`createLoader: split ${split} of ${dataset.dir} has ${reader.length} records, fewer than one batch of ${resolved.batchSize} with dropLast; lower batchSize or pass dropLast: false.`);
  const loader = new Loader(dataset, resolved, recipe, typeof source === "string");
  loader.batches(); // checks epoch and step now rather than at the first batch
  return loader;
}
