import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { createLoader } from "../../lib/data/loader";
import { featureBatches } from "../../lib/eval/features";
import { bruteForceNeighbours, type Neighbour, NearestNeighbours, retrieveNeighbours } from "../../lib/eval/retrieval";
import { SeededRandom, tinyEvalFixture } from "../helpers/train";

function sameNeighbours(got: Neighbour[][], want: Neighbour[][], tol = 1e-4): void {
  assert.equal(got.length, want.length);
  got.forEach((list, q) => {
    assert.deepEqual(
      list.map((n) => n.id),
      want[q].map((n) => n.id),
      `query ${q} ids`,
    );
    list.forEach((n, j) =>
      assert.ok(
        Math.abs(n.distance - want[q][j].distance) <= tol * Math.max(1, want[q][j].distance),
        `query ${q} #${j}: ${n.distance} vs ${want[q][j].distance}`,
      ),
    );
  });
}

/** Feeds `database` to a NearestNeighbours in batches of the given sizes (cycled). */
function streamed(
  queries: Float32Array,
  database: Float32Array,
  dim: number,
  k: number,
  ids: number[],
  sizes: number[],
): NearestNeighbours {
  const nn = new NearestNeighbours(queries, dim, k);
  for (let start = 0, b = 0; start < ids.length; b++) {
    const end = Math.min(ids.length, start + sizes[b % sizes.length]);
    nn.add(database.subarray(start * dim, end * dim), ids.slice(start, end));
    start = end;
  }
  return nn;
}

test("NearestNeighbours fed in batches equals the brute-force search: random data, k larger than a batch, duplicates and ties", () => {
  const rng = new SeededRandom(42);
  const dim = 37;
  const m = 5;
  const n = 203;
  const queries = Float32Array.from({ length: m * dim }, () => rng.next() * 2 - 1);
  const database = Float32Array.from({ length: n * dim }, () => rng.next() * 2 - 1);
  // Three copies of row 10 (equal distances: the lower id must win) and an exact copy of query 2 (distance 0).
  for (const row of [50, 120]) database.copyWithin(row * dim, 10 * dim, 11 * dim);
  database.set(queries.subarray(2 * dim, 3 * dim), 77 * dim);
  // Ids not in stream order, so that the tie-break is by id and not by arrival.
  const ids = Array.from({ length: n }, (_, i) => ((i * 89) % n) + 1000);

  const want = bruteForceNeighbours(queries, database, dim, 12, ids);
  const nn = streamed(queries, database, dim, 12, ids, [7, 50, 1, 3]);
  assert.equal(nn.count, n);
  sameNeighbours(nn.result(), want);
  assert.equal(nn.result()[2][0].id, ids[77]);
  assert.equal(nn.result()[2][0].distance, 0);

  // Queries equal to the duplicated row: its three copies come first, at distance ~0, lowest id first.
  const dupQueries = database.slice(10 * dim, 11 * dim);
  const dup = streamed(dupQueries, database, dim, 4, ids, [5]).result()[0];
  assert.deepEqual(
    dup.slice(0, 3).map((x) => x.id),
    [ids[10], ids[50], ids[120]].sort((a, b) => a - b),
  );
  for (const x of dup.slice(0, 3)) assert.ok(x.distance < 1e-3);
  sameNeighbours([dup], bruteForceNeighbours(dupQueries, database, dim, 4, ids));

  // k larger than the whole database: every vector, in order.
  const all = streamed(queries, database.subarray(0, 9 * dim), dim, 20, ids.slice(0, 9), [4]).result();
  assert.deepEqual(
    all.map((l) => l.length),
    [9, 9, 9, 9, 9],
  );
  sameNeighbours(all, bruteForceNeighbours(queries, database.subarray(0, 9 * dim), dim, 20, ids.slice(0, 9)));

  assert.throws(() => new NearestNeighbours(queries, 36, 3), /whole number of 36-vectors/);
  assert.throws(() => nn.add(database.subarray(0, 10), [1]), /10 values for 1 ids of 37 dimensions/);
});

const fx = tinyEvalFixture("alexnet-retrieval-", { seed: 6, classes: 5, trainPerClass: 4, valPerClass: 2 }, { seed: 9, init: "he" });
const SCALE = 1 / 64;

test("retrieveNeighbours streams the train split's fc7 vectors and finds what a brute-force search over all of them finds", async () => {
  const vals = createLoader(fx.data, { split: "val", batchSize: 4, augment: "center", workers: 0 });
  const train = createLoader(fx.data, { split: "train", batchSize: 6, augment: "center", workers: 0 });
  const collect = async (loader: typeof train) => {
    const parts: number[] = [];
    const ids: number[] = [];
    const labels: number[] = [];
    for await (const b of featureBatches(fx.model, loader, { inputScale: SCALE })) {
      parts.push(...b.features);
      ids.push(...b.indices);
      labels.push(...b.labels);
    }
    return { features: Float32Array.from(parts), ids, labels };
  };
  const db = await collect(train);
  const q = await collect(vals);
  const chosen = [1, 6, 3];
  const queries = Float32Array.from(chosen.flatMap((i) => [...q.features.subarray(i * 32, (i + 1) * 32)]));
  const want = bruteForceNeighbours(queries, db.features, 32, 6, db.ids);

  const before = tf.memory().numTensors;
  const progress: number[] = [];
  const found = await retrieveNeighbours(fx.model, vals, train, {
    inputScale: SCALE,
    queries: chosen,
    onBatch: (p) => progress.push(p.images),
  });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(progress, [6, 12, 18, 20]);
  assert.equal(found.layer, "fc7");
  assert.equal(found.dim, 32);
  assert.deepEqual(
    found.queries,
    chosen.map((index) => ({ index, label: q.labels[index] })),
  );
  sameNeighbours(
    found.neighbours.map((l) => l.map((x) => ({ id: x.index, distance: x.distance }))),
    want,
  );
  for (const list of found.neighbours) for (const x of list) assert.equal(x.label, db.labels[db.ids.indexOf(x.index)]);

  // Without chosen queries every val image is a query; the chosen ones get the same answer.
  const every = await retrieveNeighbours(fx.model, vals, train, { inputScale: SCALE, k: 6 });
  assert.equal(every.queries.length, 10);
  assert.deepEqual(
    chosen.map((i) => every.neighbours[i]),
    found.neighbours,
  );

  const augmented = createLoader(fx.data, { split: "train", batchSize: 6, workers: 0 });
  await assert.rejects(retrieveNeighbours(fx.model, vals, augmented), /augment: "center"/);
  await assert.rejects(retrieveNeighbours(fx.model, vals, train, { queries: [10] }), /query 10 is not a record of the val split \(0..9\)/);
  await Promise.all([vals.close(), train.close(), augmented.close()]);
});
