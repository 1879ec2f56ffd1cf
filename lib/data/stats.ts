// Training-set statistics: the per-pixel mean image the paper subtracts, and the
// RGB covariance whose eigenvectors drive its PCA lighting augmentation.
// All values are in pixel units (0..255). Sums are float64 and, because pixels
// are integers, exact up to 2^53 (about 1.3M ImageNet images at 256x256), so
// partial sums from shards or workers merge in any order to the same result.

/** [height, width, channels] of one image, row-major HWC. */
export type ImageShape = [number, number, number];

/** Running sums over a set of images; merge with mergeStats, finish with finalizeStats. */
export interface PartialStats {
  shape: ImageShape;
  /** Images accumulated. */
  images: number;
  /** Pixel positions accumulated: images * height * width. */
  pixels: number;
  /** Sum over images of each value, length H*W*C (HWC order). */
  pixelSum: Float64Array;
  /** Sum over all pixels of each channel, length C. */
  channelSum: number[];
  /** Sum over all pixels of x x^T, C*C row-major. */
  crossSum: number[];
}

export interface DatasetStatistics {
  shape: ImageShape;
  images: number;
  pixels: number;
  /** Per-pixel mean over the images, H*W*C, HWC order. */
  meanImage: Float32Array;
  /** Mean of each channel over all pixels (R, G, B). */
  channelMean: number[];
  /** C x C channel covariance over all pixels, divided by the pixel count (not count - 1). */
  covariance: number[][];
  /** Eigenvalues of `covariance`, largest first. */
  eigenvalues: number[];
  /** Rows: eigenvectors[k] is the unit eigenvector of eigenvalues[k], its largest-magnitude entry positive. */
  eigenvectors: number[][];
}

export function checkImageShape(shape: readonly number[], what = "image shape"): ImageShape {
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what} must be [height, width, channels] of positive integers, got ${JSON.stringify(shape)}.`);
  }
  return [shape[0], shape[1], shape[2]];
}

export function emptyStats(shape: readonly number[]): PartialStats {
  const [h, w, c] = checkImageShape(shape);
  return { shape: [h, w, c], images: 0, pixels: 0, pixelSum: new Float64Array(h * w * c), channelSum: new Array<number>(c).fill(0), crossSum: new Array<number>(c * c).fill(0) };
}

/** Adds one HWC uint8 image to the sums. */
export function accumulate(stats: PartialStats, pixels: Uint8Array): void {
  const [h, w, c] = stats.shape;
  const n = h * w * c;
  if (pixels.length !== n) throw new Error(`accumulate: image has ${pixels.length} values, expected ${h}x${w}x${c} = ${n}.`);
  const sum = stats.pixelSum;
  if (c === 3) accumulateRgb(sum, stats.channelSum, stats.crossSum, pixels);
  else {
    for (let i = 0; i < n; i++) sum[i] += pixels[i];
    const cs = new Array<number>(c).fill(0);
    const xs = new Array<number>(c * c).fill(0);
    for (let i = 0; i < n; i += c) {
      for (let j = 0; j < c; j++) {
        const v = pixels[i + j];
        cs[j] += v;
        for (let k = 0; k < c; k++) xs[j * c + k] += v * pixels[i + k];
      }
    }
    for (let j = 0; j < c; j++) stats.channelSum[j] += cs[j];
    for (let j = 0; j < c * c; j++) stats.crossSum[j] += xs[j];
  }
  stats.images += 1;
  stats.pixels += h * w;
}

// Pixels per block of accumulateRgb: 8192 * 255 * 255 < 2^31, so a block's sums are exact in int32.
const RGB_BLOCK = 8192;

// The RGB case in one pass over the image (it was two), with each block's channel and
// cross sums kept in int32 locals that V8 adds without boxing, then added to the
// float64 totals. Every sum is an integer below 2^53, so the totals are the same
// numbers whatever the grouping: prepare's statistics files stay byte-identical.
// Prepare calls this on its main thread for every training image, which made it
// about a sixth of that thread's time.
function accumulateRgb(sum: Float64Array, cs: number[], xs: number[], pixels: Uint8Array): void {
  const n = pixels.length;
  for (let start = 0; start < n; start += 3 * RGB_BLOCK) {
    const end = Math.min(n, start + 3 * RGB_BLOCK);
    let r = 0, g = 0, b = 0, rr = 0, rg = 0, rb = 0, gg = 0, gb = 0, bb = 0;
    for (let i = start; i < end; i += 3) {
      const x = pixels[i], y = pixels[i + 1], z = pixels[i + 2];
      sum[i] += x; sum[i + 1] += y; sum[i + 2] += z;
      r += x; g += y; b += z;
      rr += x * x; rg += x * y; rb += x * z;
      gg += y * y; gb += y * z; bb += z * z;
    }
    cs[0] += r; cs[1] += g; cs[2] += b;
    xs[0] += rr; xs[1] += rg; xs[2] += rb;
    xs[3] += rg; xs[4] += gg; xs[5] += gb;
    xs[6] += rb; xs[7] += gb; xs[8] += bb;
  }
}

/** Sums of the union of two disjoint image sets; neither input is changed. */
export function mergeStats(a: PartialStats, b: PartialStats): PartialStats {
  if (a.shape.join("x") !== b.shape.join("x")) {
    throw new Error(`mergeStats: image shapes differ (${a.shape.join("x")} vs ${b.shape.join("x")}); statistics from different preprocessing cannot be combined.`);
  }
  const pixelSum = new Float64Array(a.pixelSum);
  for (let i = 0; i < pixelSum.length; i++) pixelSum[i] += b.pixelSum[i];
  return {
    shape: [a.shape[0], a.shape[1], a.shape[2]],
    images: a.images + b.images,
    pixels: a.pixels + b.pixels,
    pixelSum,
    channelSum: a.channelSum.map((v, i) => v + b.channelSum[i]),
    crossSum: a.crossSum.map((v, i) => v + b.crossSum[i]),
  };
}

export function finalizeStats(stats: PartialStats): DatasetStatistics {
  if (stats.images === 0 || stats.pixels === 0) throw new Error("finalizeStats: no images were accumulated, so there is no mean or covariance.");
  const c = stats.shape[2];
  const meanImage = new Float32Array(stats.pixelSum.length);
  for (let i = 0; i < meanImage.length; i++) meanImage[i] = stats.pixelSum[i] / stats.images;
  const channelMean = stats.channelSum.map((s) => s / stats.pixels);
  const covariance: number[][] = [];
  for (let j = 0; j < c; j++) {
    covariance.push([]);
    for (let k = 0; k < c; k++) covariance[j].push(stats.crossSum[j * c + k] / stats.pixels - channelMean[j] * channelMean[k]);
  }
  const { values, vectors } = symmetricEigen(covariance);
  return { shape: [stats.shape[0], stats.shape[1], c], images: stats.images, pixels: stats.pixels, meanImage, channelMean, covariance, eigenvalues: values, eigenvectors: vectors };
}

export interface Eigen {
  /** Largest first. */
  values: number[];
  /** Rows: vectors[k] is the unit eigenvector of values[k], its largest-magnitude entry positive. */
  vectors: number[][];
}

/** Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations. */
export function symmetricEigen(matrix: number[][]): Eigen {
  const n = matrix.length;
  const scale = Math.max(0, ...matrix.flat().map(Math.abs));
  for (const row of matrix) {
    if (row.length !== n) throw new Error(`symmetricEigen: matrix must be square, got ${n} rows and a row of ${row.length}.`);
    if (!row.every(Number.isFinite)) throw new Error("symmetricEigen: matrix has a non-finite entry.");
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (Math.abs(matrix[i][j] - matrix[j][i]) > 1e-9 * (scale || 1)) throw new Error(`symmetricEigen: matrix is not symmetric ([${i}][${j}] = ${matrix[i][j]}, [${j}][${i}] = ${matrix[j][i]}).`);
    }
  }
  const a = matrix.map((row) => row.slice());
  // v accumulates the rotations; its columns become the eigenvectors.
  const v: number[][] = a.map((_, i) => a.map((__, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off <= 1e-30 * (scale * scale || 1)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        // Rotation angle that zeroes a[p][q] (Numerical Recipes' stable form).
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cos = 1 / Math.sqrt(t * t + 1);
        const sin = t * cos;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = cos * akp - sin * akq;
          a[k][q] = sin * akp + cos * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = cos * apk - sin * aqk;
          a[q][k] = sin * apk + cos * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = cos * vkp - sin * vkq;
          v[k][q] = sin * vkp + cos * vkq;
        }
      }
    }
  }
  const order = a.map((_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  const vectors = order.map((col) => {
    const vec = v.map((row) => row[col]);
    let big = 0;
    for (let k = 1; k < n; k++) if (Math.abs(vec[k]) > Math.abs(vec[big]) + 1e-12) big = k;
    const norm = Math.hypot(...vec) * (vec[big] < 0 ? -1 : 1);
    return vec.map((x) => x / norm);
  });
  return { values: order.map((i) => a[i][i]), vectors };
}
