// The paper's measures of a classifier (section 6): top-1 and top-5 error rates,
// with the softmax averaged over the patches of an image when there are several
// (section 4.1: four corners, centre, and their reflections), plus a confusion
// matrix to see which classes are mistaken for which. Plain arrays, no tfjs: the
// model's outputs are copied out once per batch and everything else happens here,
// so the numbers can be checked by hand.
//
// Layouts: a batch of rows is a Float32Array of rows * classes values, row-major.
// With views, image i's views are rows i*views .. i*views+views-1 (the loader's order).

/** Softmax of each row of `logits` (rows * classes), computed stably (the row's max is subtracted first). */
export function softmax(logits: ArrayLike<number>, classes: number): Float32Array {
  checkRows("softmax", logits.length, classes);
  const out = new Float32Array(logits.length);
  for (let start = 0; start < logits.length; start += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[start + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[start + c] - max);
    for (let c = 0; c < classes; c++) out[start + c] = Math.exp(logits[start + c] - max) / sum;
  }
  return out;
}

/** log(mean over the views of softmax(logits)[label]) for one image, without underflow (log-sum-exp). */
export function logMeanSoftmax(logits: ArrayLike<number>, image: number, views: number, classes: number, label: number): number {
  const logs: number[] = [];
  for (let v = 0; v < views; v++) {
    const start = (image * views + v) * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[start + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[start + c] - max);
    logs.push(logits[start + label] - max - Math.log(sum));
  }
  const top = Math.max(...logs);
  let sum = 0;
  for (const l of logs) sum += Math.exp(l - top);
  return top + Math.log(sum / views);
}

/**
 * The mean of each image's `views` rows of probabilities: images * classes values.
 * This is the paper's ten-patch prediction (average the softmax, not the logits).
 */
export function averageViews(probs: ArrayLike<number>, images: number, views: number, classes: number): Float32Array {
  if (probs.length !== images * views * classes)
    throw new Error(
      `averageViews: ${probs.length} values, but ${images} images x ${views} views x ${classes} classes need ${images * views * classes}.`,
    );
  const out = new Float32Array(images * classes);
  for (let i = 0; i < images; i++) {
    for (let c = 0; c < classes; c++) {
      let sum = 0;
      for (let v = 0; v < views; v++) sum += probs[(i * views + v) * classes + c];
      out[i * classes + c] = sum / views;
    }
  }
  return out;
}

/** Does (p, class) rank before (q, other)? Higher probability first, then the lower class index. */
function before(p: number, cls: number, q: number, other: number): boolean {
  return p > q || (p === q && cls < other);
}

/**
 * The k most probable classes of one row, most probable first; equal
 * probabilities go to the lower class index. k larger than the row gives the
 * whole row in order.
 */
export function topK(row: ArrayLike<number>, k: number): number[] {
  const n = Math.min(Math.max(0, Math.floor(k)), row.length);
  const top: number[] = [];
  for (let c = 0; c < row.length; c++) {
    // Insertion into a list of at most k: O(classes * k), and k is 5.
    if (top.length === n) {
      if (n === 0 || !before(row[c], c, row[top[n - 1]], top[n - 1])) continue;
      top.pop();
    }
    let at = top.length;
    top.push(c);
    while (at > 0 && before(row[c], c, row[top[at - 1]], top[at - 1])) {
      top[at] = top[at - 1];
      at--;
    }
    top[at] = c;
  }
  return top;
}

/**
 * Where `label` comes in the row's order (0 = the top prediction), with the
 * tie-breaking of topK. The image counts as right at top-k when rank < k.
 */
export function labelRank(row: ArrayLike<number>, label: number): number {
  const p = row[label];
  let rank = 0;
  for (let c = 0; c < row.length; c++) if (c !== label && before(row[c], c, p, label)) rank++;
  return rank;
}

/**
 * Top-k error for each k in `ks`: the fraction of images whose label is not
 * among their k most probable classes. `probs` has one row per image (average
 * the views first). Returns the errors in the order of `ks`.
 */
export function topKErrors(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number, ks: readonly number[] = [1, 5]): number[] {
  checkRows("topKErrors", probs.length, classes);
  const images = probs.length / classes;
  if (labels.length !== images) throw new Error(`topKErrors: ${images} rows of probabilities but ${labels.length} labels.`);
  if (images === 0) throw new Error("topKErrors: no images; the error rate of nothing is undefined.");
  const wrong = ks.map(() => 0);
  for (let i = 0; i < images; i++) {
    const rank = labelRank(rowOf(probs, i, classes), checkLabel("topKErrors", labels[i], classes));
    ks.forEach((k, j) => {
      if (rank >= k) wrong[j]++;
    });
  }
  return wrong.map((w) => w / images);
}

/** Row i of a rows * classes array, without copying when it is a typed array. */
export function rowOf(values: ArrayLike<number>, i: number, classes: number): ArrayLike<number> {
  if (ArrayBuffer.isView(values)) return (values as unknown as Float32Array).subarray(i * classes, (i + 1) * classes);
  return Array.prototype.slice.call(values, i * classes, (i + 1) * classes) as number[];
}

/** A class mistaken for another: `count` images of `actual` predicted as `predicted`. */
export interface ConfusedPair {
  actual: number;
  predicted: number;
  count: number;
}

/**
 * counts[actual * classes + predicted]: how many images of class `actual` got
 * top-1 prediction `predicted`. The diagonal holds the correct ones.
 */
export class ConfusionMatrix {
  readonly counts: Int32Array;

  constructor(readonly classes: number) {
    if (!Number.isInteger(classes) || classes < 1) throw new Error(`ConfusionMatrix: classes must be a positive integer, got ${classes}.`);
    this.counts = new Int32Array(classes * classes);
  }

  add(actual: number, predicted: number, count = 1): void {
    checkLabel("ConfusionMatrix.add", actual, this.classes);
    checkLabel("ConfusionMatrix.add", predicted, this.classes);
    this.counts[actual * this.classes + predicted] += count;
  }

  get(actual: number, predicted: number): number {
    return this.counts[actual * this.classes + predicted];
  }

  /** Adds another matrix's counts (say, from another part of the split). */
  merge(other: ConfusionMatrix): this {
    if (other.classes !== this.classes) throw new Error(`ConfusionMatrix.merge: ${other.classes} classes into ${this.classes}.`);
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    return this;
  }

  get total(): number {
    let sum = 0;
    for (const c of this.counts) sum += c;
    return sum;
  }

  /** Images per actual class (row sums). */
  support(): Int32Array {
    const out = new Int32Array(this.classes);
    for (let a = 0; a < this.classes; a++) for (let p = 0; p < this.classes; p++) out[a] += this.counts[a * this.classes + p];
    return out;
  }

  /** Top-1 accuracy of each actual class; NaN for a class with no images. */
  perClassAccuracy(): Float64Array {
    const support = this.support();
    return Float64Array.from(support, (n, a) => (n === 0 ? NaN : this.counts[a * this.classes + a] / n));
  }

  /**
   * The k largest off-diagonal counts, largest first (ties: lower actual, then
   * lower predicted class). With `symmetric`, a→b and b→a are summed and
   * reported once, with actual < predicted: which classes are told apart worst.
   * Pairs with no mistakes are left out, so fewer than k may come back.
   */
  mostConfused(k: number, options: { symmetric?: boolean } = {}): ConfusedPair[] {
    const n = this.classes;
    const pairs: ConfusedPair[] = [];
    for (let a = 0; a < n; a++) {
      for (let p = options.symmetric ? a + 1 : 0; p < n; p++) {
        if (p === a) continue;
        const count = this.counts[a * n + p] + (options.symmetric ? this.counts[p * n + a] : 0);
        if (count > 0) pairs.push({ actual: a, predicted: p, count });
      }
    }
    pairs.sort((x, y) => y.count - x.count || x.actual - y.actual || x.predicted - y.predicted);
    return pairs.slice(0, Math.max(0, k));
  }
}

function checkRows(what: string, length: number, classes: number): void {
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`${what}: classes must be a positive integer, got ${classes}.`);
  if (length % classes !== 0) throw new Error(`${what}: ${length} values is not a whole number of rows of ${classes} classes.`);
}

function checkLabel(what: string, label: number, classes: number): number {
  if (!Number.isInteger(label) || label < 0 || label >= classes) throw new Error(`${what}: label ${label} is outside 0..${classes - 1}.`);
  return label;
}
