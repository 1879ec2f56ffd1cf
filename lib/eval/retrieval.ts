// Figure 4 (right) of the paper: for a few test images, the training images whose
// last-hidden-layer vectors are nearest in Euclidean distance. The training
// split's vectors are streamed past the queries a batch at a time, keeping only
// the k best per query, so the whole split never has to be in memory (ImageNet's
// 1.2 million fc7 vectors would be 20 GB).
import * as tf from "@tensorflow/tfjs";
import { BatchMaker } from "../data/batches";
import type { Loader } from "../data/loader";
import { batchOutputs } from "./evaluate";
import { type FeatureOptions, featureBatches, featureModel, meanOfViews } from "./features";

export interface Neighbour {
  id: number;
  /** Euclidean distance (not squared). */
  distance: number;
}

/**
 * The k nearest database vectors to each of m query vectors, fed in batches.
 * Distances come from ||q||² − 2 q·x + ||x||² (one dot product per pair, in
 * float64); ties go to the lower id.
 */
export class NearestNeighbours {
  /** Number of queries. */
  readonly size: number;
  private readonly queryNorms: Float64Array;
  /** Per query, up to k (squared distance, id) pairs, nearest first. */
  private readonly dist: Float64Array;
  private readonly ids: Float64Array;
  private readonly filled: Int32Array;
  private seen = 0;

  constructor(
    readonly queries: Float32Array,
    readonly dim: number,
    readonly k: number,
  ) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`NearestNeighbours: dim must be a positive integer, got ${dim}.`);
    if (!Number.isInteger(k) || k < 1) throw new Error(`NearestNeighbours: k must be a positive integer, got ${k}.`);
    if (queries.length % dim !== 0)
      throw new Error(`NearestNeighbours: ${queries.length} query values is not a whole number of ${dim}-vectors.`);
    this.size = queries.length / dim;
    this.queryNorms = new Float64Array(this.size);
    for (let q = 0; q < this.size; q++) this.queryNorms[q] = dot(queries, q * dim, queries, q * dim, dim);
    this.dist = new Float64Array(this.size * k);
    this.ids = new Float64Array(this.size * k);
    this.filled = new Int32Array(this.size);
  }

  /** Database vectors seen so far. */
  get count(): number {
    return this.seen;
  }

  /** Considers n database vectors (n x dim, row-major) with their ids. */
  add(features: Float32Array, ids: ArrayLike<number>): void {
    const { dim, k } = this;
    const n = ids.length;
    if (features.length !== n * dim) throw new Error(`NearestNeighbours.add: ${features.length} values for ${n} ids of ${dim} dimensions.`);
    for (let i = 0; i < n; i++) {
      const at = i * dim;
      const norm = dot(features, at, features, at, dim);
      const id = ids[i];
      for (let q = 0; q < this.size; q++) {
        // Rounding can take a duplicate's squared distance a hair below zero.
        const d2 = Math.max(0, this.queryNorms[q] - 2 * dot(this.queries, q * dim, features, at, dim) + norm);
        this.offer(q, d2, id, k);
      }
    }
    this.seen += n;
  }

  private offer(q: number, d2: number, id: number, k: number): void {
    const base = q * k;
    let filled = this.filled[q];
    if (filled === k) {
      const worst = base + k - 1;
      if (d2 > this.dist[worst] || (d2 === this.dist[worst] && id >= this.ids[worst])) return;
      filled--; // the worst drops out
    }
    // Insertion sort into the kept list: k is small (the paper shows 6).
    let j = base + filled;
    while (j > base && (this.dist[j - 1] > d2 || (this.dist[j - 1] === d2 && this.ids[j - 1] > id))) {
      this.dist[j] = this.dist[j - 1];
      this.ids[j] = this.ids[j - 1];
      j--;
    }
    this.dist[j] = d2;
    this.ids[j] = id;
    this.filled[q] = filled + 1;
  }

  /** Per query, its nearest database vectors so far, nearest first (fewer than k if fewer were added). */
  result(): Neighbour[][] {
    return Array.from({ length: this.size }, (_, q) =>
      Array.from({ length: this.filled[q] }, (_, j) => ({ id: this.ids[q * this.k + j], distance: Math.sqrt(this.dist[q * this.k + j]) })),
    );
  }
}

function dot(a: Float32Array, aStart: number, b: Float32Array, bStart: number, n: number): number {
  let sum = 0;
  for (let j = 0; j < n; j++) sum += a[aStart + j] * b[bStart + j];
  return sum;
}

/**
 * The same answer the plain way: every distance as sqrt(Σ (q − x)²), all sorted.
 * For checking NearestNeighbours on small data. ids default to 0..n-1.
 */
export function bruteForceNeighbours(
  queries: Float32Array,
  database: Float32Array,
  dim: number,
  k: number,
  ids?: ArrayLike<number>,
): Neighbour[][] {
  const m = queries.length / dim;
  const n = database.length / dim;
  const out: Neighbour[][] = [];
  for (let q = 0; q < m; q++) {
    const all: Neighbour[] = [];
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += (queries[q * dim + j] - database[i * dim + j]) ** 2;
      all.push({ id: ids ? ids[i] : i, distance: Math.sqrt(sum) });
    }
    all.sort((a, b) => a.distance - b.distance || a.id - b.id);
    out.push(all.slice(0, k));
  }
  return out;
}

export interface RetrievalOptions extends FeatureOptions {
  /** Neighbours per query. Default 6, as in Figure 4. */
  k?: number;
  /** Record indices of the query images in queryLoader's split. Default: the whole split. */
  queries?: ArrayLike<number>;
  /** Called after each batch of the database split. */
  onBatch?: (progress: { images: number; total: number }) => void;
}

export interface RetrievedImage {
  /** Record index in its split. */
  index: number;
  label: number;
}

export interface Retrieval {
  layer: string;
  dim: number;
  queries: RetrievedImage[];
  /** Per query, the nearest database images, nearest first. */
  neighbours: (RetrievedImage & { distance: number })[][];
}

/**
 * For each query image (of queryLoader's split), the k database images (one
 * epoch of databaseLoader, normally the train split with augment "center")
 * nearest in the feature space of `layer`. Use the same crop, mean and input
 * transform for both loaders.
 */
export async function retrieveNeighbours(
  model: tf.LayersModel,
  queryLoader: Loader,
  databaseLoader: Loader,
  options: RetrievalOptions = {},
): Promise<Retrieval> {
  const layer = options.layer ?? "fc7";
  if (databaseLoader.options.augment === "train") {
    throw new Error(
      `retrieveNeighbours: the database loader uses random "train" crops (and drops the last batch); create it with augment: "center".`,
    );
  }
  const query = await queryFeatures(model, queryLoader, options);
  const search = new NearestNeighbours(query.features, query.dim, options.k ?? 6);
  const labels = new Map<number, number>();
  for await (const batch of featureBatches(model, databaseLoader, options)) {
    if (batch.dim !== query.dim)
      throw new Error(
        `retrieveNeighbours: the database vectors have ${batch.dim} values but the queries ${query.dim}; give both loaders the same crop.`,
      );
    search.add(batch.features, batch.indices);
    // Labels of the current neighbours only, so memory does not grow with the split.
    const kept = new Set(search.result().flatMap((list) => list.map((n) => n.id)));
    batch.indices.forEach((index, i) => kept.has(index) && labels.set(index, batch.labels[i]));
    for (const id of [...labels.keys()]) if (!kept.has(id)) labels.delete(id);
    options.onBatch?.({ images: search.count, total: databaseLoader.size });
  }
  const found = search.result();
  return {
    layer,
    dim: query.dim,
    queries: query.images,
    neighbours: found.map((list) => list.map((n) => ({ index: n.id, label: labels.get(n.id) as number, distance: n.distance }))),
  };
}

/** Feature vectors of the query images: the chosen records, or the whole split. */
async function queryFeatures(
  model: tf.LayersModel,
  loader: Loader,
  options: RetrievalOptions,
): Promise<{ features: Float32Array; dim: number; images: RetrievedImage[] }> {
  if (options.queries === undefined) {
    const parts: Float32Array[] = [];
    const images: RetrievedImage[] = [];
    let dim = 0;
    for await (const batch of featureBatches(model, loader, options)) {
      parts.push(batch.features);
      dim = batch.dim;
      batch.indices.forEach((index, i) => images.push({ index, label: batch.labels[i] }));
    }
    const features = new Float32Array(images.length * dim);
    let at = 0;
    for (const p of parts) {
      features.set(p, at);
      at += p.length;
    }
    return { features, dim, images };
  }
  const indices = Array.from(options.queries);
  const size = loader.size;
  const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= size);
  if (bad !== undefined)
    throw new Error(`retrieveNeighbours: query ${bad} is not a record of the ${loader.options.split} split (0..${size - 1}).`);
  // The chosen records made as the loader would make them, in one batch.
  const maker = new BatchMaker(loader.recipe);
  let made: { images: Float32Array; labels: Int32Array };
  try {
    made = maker.make(loader.options.epoch, indices);
  } finally {
    maker.close();
  }
  const [h, w, c] = loader.imageShape;
  const out = await batchOutputs(
    featureModel(model, options.layer ?? "fc7"),
    { images: made.images, shape: [indices.length * loader.views, h, w, c] },
    options,
  );
  const dim = out.width;
  const features = meanOfViews(out.values, indices.length, loader.views, dim);
  return { features, dim, images: indices.map((index, i) => ({ index, label: made.labels[i] })) };
}
