// The paper's data augmentation (section 4.1) and input normalisation (section 2):
// random crops and horizontal reflections, PCA lighting, mean subtraction, and the
// ten patches of test time. Each step is a small function on an HWC image, for the
// notebook to show one at a time; writeAugmented does all of them in one pass over
// the crop, and is what the loader runs.
//
// Choices, and what reference implementations do:
// - Crop offsets are whole pixels in 0..size-crop inclusive (33 positions per axis
//   for 224 from 256), as Caffe draws them (Rand(size - crop + 1)).
// - The mean is the training set's per-pixel mean image (lib/data/stats.ts), taken at
//   the pixels the crop comes from: out = crop(reflect?(image - mean)). That is the
//   paper's order (the mean is subtracted from the 256x256 image) and Caffe's
//   (data_transformer.cpp reads mean[(c*H + h_off+h)*W + w_off+w] at the source
//   pixel, also for mirrored crops). cuda-convnet2, Krizhevsky's later code, instead
//   subtracts the mean's central crop from every crop (data_mean_crop in convdata.py).
// - PCA lighting adds one RGB vector per image, so it commutes with cropping,
//   reflecting and the mean: it is a per-image constant in the single pass.
import type { ImageShape } from "./stats";
import { hashSeed, Random } from "./random";

export type PixelArray = Uint8Array | Float32Array;

/** A row-major HWC image: the value at (y, x, c) is data[(y*width + x)*channels + c]. */
export interface Image<T extends PixelArray = PixelArray> {
  data: T;
  height: number;
  width: number;
  channels: number;
}

function checkImage(image: Image, what: string): void {
  const { height, width, channels, data } = image;
  if (![height, width, channels].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what}: image height, width and channels must be positive integers, got ${height}x${width}x${channels}.`);
  }
  if (data.length !== height * width * channels) {
    throw new Error(`${what}: image data has ${data.length} values, but ${height}x${width}x${channels} needs ${height * width * channels} (row-major HWC).`);
  }
}

function sameKind<T extends PixelArray>(like: T, length: number): T {
  return (like instanceof Uint8Array ? new Uint8Array(length) : new Float32Array(length)) as T;
}

/** Offsets a crop can take: x in 0..maxX and y in 0..maxY, both ends included. */
export function cropRange(height: number, width: number, crop: number): { maxX: number; maxY: number } {
  if (!Number.isInteger(crop) || crop < 1) throw new Error(`crop size must be a positive integer, got ${crop}.`);
  if (crop > height || crop > width) throw new Error(`crop size ${crop} is larger than the ${height}x${width} image; use a crop of at most ${Math.min(height, width)}.`);
  return { maxX: width - crop, maxY: height - crop };
}

/** The height x width window whose top-left pixel is (x, y). */
export function cropImage<T extends PixelArray>(image: Image<T>, x: number, y: number, height: number, width: number = height): Image<T> {
  checkImage(image, "cropImage");
  if (![x, y].every(Number.isInteger) || ![height, width].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`cropImage: offsets and sizes must be integers (sizes positive), got x=${x} y=${y} ${height}x${width}.`);
  }
  if (x < 0 || y < 0 || x + width > image.width || y + height > image.height) {
    throw new Error(`cropImage: a ${height}x${width} window at (x=${x}, y=${y}) leaves the ${image.height}x${image.width} image; keep x in 0..${image.width - width} and y in 0..${image.height - height}.`);
  }
  const c = image.channels;
  const out = sameKind(image.data, height * width * c);
  for (let r = 0; r < height; r++) {
    const from = ((y + r) * image.width + x) * c;
    out.set(image.data.subarray(from, from + width * c), r * width * c);
  }
  return { data: out, height, width, channels: c };
}

/** A crop x crop window at a uniformly random whole-pixel position (paper: 224 from 256). */
export function randomCrop<T extends PixelArray>(image: Image<T>, crop: number, random: Random): { image: Image<T>; x: number; y: number } {
  const { maxX, maxY } = cropRange(image.height, image.width, crop);
  const x = random.int(maxX + 1);
  const y = random.int(maxY + 1);
  return { image: cropImage(image, x, y, crop), x, y };
}

/** Horizontal reflection: pixel (x, y) moves to (width-1-x, y); channels keep their order. */
export function reflect<T extends PixelArray>(image: Image<T>): Image<T> {
  checkImage(image, "reflect");
  const { height, width, channels: c } = image;
  const out = sameKind(image.data, image.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * c;
      const to = (y * width + (width - 1 - x)) * c;
      for (let k = 0; k < c; k++) out[to + k] = image.data[from + k];
    }
  }
  return { data: out, height, width, channels: c };
}

// ---------------------------------------------------------------- PCA lighting

/** Principal components of the RGB pixel values: eigenvectors[k] (a row) goes with eigenvalues[k]. */
export interface PcaBasis {
  eigenvalues: number[];
  eigenvectors: number[][];
}

/**
 * What multiplies alpha_k along eigenvector p_k. The paper writes alpha_k * lambda_k,
 * lambda_k an eigenvalue of the covariance; that product depends on the pixel units
 * (an eigenvalue is in units squared), and the paper does not give them.
 * - "stddev": sqrt(lambda_k), the spread of the data along p_k, in pixel units.
 *   Unit-free: each image shifts by 10% of that spread (alpha std 0.1). This is what
 *   cuda-convnet2, Krizhevsky's later code, adds (its `pca_stdevs`).
 * - "eigenvalue-0to1": lambda_k of pixel values scaled to 0..1, the formula as most
 *   framework ports apply it to 0..1 images; returned in pixel units (lambda/255).
 *   fb.resnet.torch (datasets/transforms.lua Lighting) multiplies alpha by its
 *   eigval 0.2175, 0.0188, 0.0045 as given, on images loaded as 0..1 floats.
 * - "eigenvalue-0to255": lambda_k of 0..255 pixel values, literally. Shifts of
 *   hundreds of pixel levels: there for the notebook to show why it cannot be meant.
 */
export type LightingScale = "stddev" | "eigenvalue-0to1" | "eigenvalue-0to255";
export const LIGHTING_SCALES: readonly LightingScale[] = ["stddev", "eigenvalue-0to1", "eigenvalue-0to255"];

/** The basis to use with pcaLighting, from the dataset's statistics (pixel units 0..255). */
export function lightingBasis(stats: PcaBasis, scale: LightingScale = "stddev"): PcaBasis {
  checkBasis(stats, "lightingBasis");
  const f = scale === "stddev" ? (l: number) => Math.sqrt(Math.max(0, l)) : scale === "eigenvalue-0to1" ? (l: number) => l / 255 : scale === "eigenvalue-0to255" ? (l: number) => l : undefined;
  if (!f) throw new Error(`lightingBasis: scale must be one of ${LIGHTING_SCALES.join(", ")}, got ${JSON.stringify(scale)}.`);
  return { eigenvalues: stats.eigenvalues.map(f), eigenvectors: stats.eigenvectors.map((v) => v.slice()) };
}

function checkBasis(basis: PcaBasis, what: string): number {
  const n = basis.eigenvalues?.length;
  if (!n || basis.eigenvectors?.length !== n || !basis.eigenvectors.every((v) => v.length === n)) {
    throw new Error(`${what}: expected ${n ?? "C"} eigenvalues and as many eigenvectors (rows) of that length, as in the dataset's stats.json; got ${basis.eigenvalues?.length} eigenvalues and ${basis.eigenvectors?.length} eigenvectors.`);
  }
  return n;
}

/** The paper's lighting shift [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T: one RGB vector for the whole image. */
export function lightingOffset(basis: PcaBasis, alphas: ArrayLike<number>): number[] {
  const n = checkBasis(basis, "lightingOffset");
  if (alphas.length !== n) throw new Error(`lightingOffset: ${alphas.length} alphas for ${n} principal components; draw one alpha per component.`);
  const out = new Array<number>(n).fill(0);
  for (let k = 0; k < n; k++) {
    const m = alphas[k] * basis.eigenvalues[k];
    for (let c = 0; c < n; c++) out[c] += m * basis.eigenvectors[k][c];
  }
  return out;
}

/** alpha_k ~ N(0, std), one per principal component; the paper's std is 0.1. */
export function drawAlphas(random: Random, std = 0.1, count = 3): number[] {
  return Array.from({ length: count }, () => random.normal() * std);
}

/** Adds the lighting shift to every pixel (no clipping: the paper mentions none). */
export function pcaLighting(image: Image, basis: PcaBasis, alphas: ArrayLike<number>): Image<Float32Array> {
  checkImage(image, "pcaLighting");
  const shift = lightingOffset(basis, alphas);
  if (shift.length !== image.channels) throw new Error(`pcaLighting: the basis has ${shift.length} components but the image has ${image.channels} channels.`);
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i] + shift[i % image.channels];
  return { data: out, height: image.height, width: image.width, channels: image.channels };
}

/** image - mean, with mean either a whole image of the same shape (per pixel) or one value per channel. */
export function subtractMean(image: Image, mean: ArrayLike<number>): Image<Float32Array> {
  checkImage(image, "subtractMean");
  const c = image.channels;
  const out = new Float32Array(image.data.length);
  if (mean.length === image.data.length) {
    for (let i = 0; i < out.length; i++) out[i] = image.data[i] - mean[i];
  } else if (mean.length === c) {
    for (let i = 0; i < out.length; i++) out[i] = image.data[i] - mean[i % c];
  } else {
    throw new Error(`subtractMean: the mean has ${mean.length} values; give ${image.data.length} (a ${image.height}x${image.width}x${c} mean image, cropped like the image) or ${c} (one per channel).`);
  }
  return { data: out, height: image.height, width: image.width, channels: c };
}

// ---------------------------------------------------------------- test-time patches

/** Offset of a centred crop; rounds down when size - crop is odd, like Caffe (torchvision agrees for 224 and 227 from 256). */
export function centerOffset(size: number, crop: number): number {
  if (!Number.isInteger(size) || !Number.isInteger(crop) || crop < 1 || crop > size) throw new Error(`centerOffset: crop ${crop} must be an integer from 1 to the image size ${size}.`);
  return Math.floor((size - crop) / 2);
}

export interface PatchPlace {
  name: string;
  x: number;
  y: number;
  flip: boolean;
}

export const TEN_PATCH_NAMES: readonly string[] = ["top-left", "top-right", "bottom-left", "bottom-right", "centre"];

/**
 * The paper's ten test patches: the four corners and the centre, then the same five
 * reflected (patch k+5 is patch k mirrored). torchvision's ten_crop lists the second
 * five as crops of the mirrored image instead, so its corners 6 and 7 (and 8 and 9)
 * are our 7 and 6 (9 and 8); the set, and so the averaged prediction, is the same.
 */
export function tenPatchPlaces(height: number, width: number, crop: number): PatchPlace[] {
  const { maxX, maxY } = cropRange(height, width, crop);
  const five: [number, number][] = [
    [0, 0],
    [maxX, 0],
    [0, maxY],
    [maxX, maxY],
    [centerOffset(width, crop), centerOffset(height, crop)],
  ];
  return [false, true].flatMap((flip) => five.map(([x, y], k) => ({ name: flip ? `${TEN_PATCH_NAMES[k]} reflected` : TEN_PATCH_NAMES[k], x, y, flip })));
}

/** The ten crop x crop patches of an image, in tenPatchPlaces order. */
export function tenPatches<T extends PixelArray>(image: Image<T>, crop: number): Image<T>[] {
  return tenPatchPlaces(image.height, image.width, crop).map((p) => {
    const patch = cropImage(image, p.x, p.y, crop);
    return p.flip ? reflect(patch) : patch;
  });
}

// ---------------------------------------------------------------- per-presentation draws and the fused pass

/** Everything random about one presentation of one training image. */
export interface AugmentDraw {
  x: number;
  y: number;
  flip: boolean;
  /** alpha_k of PCA lighting, already multiplied by the alpha std. */
  alphas: number[];
}

/**
 * The draws for record `index` in `epoch`, a function of (seed, epoch, index) only:
 * a worker can make them for any image, and an image seen again in a later epoch
 * gets new ones, as the paper re-draws alpha "until that image is used for training
 * again". Order of draws: x, y, flip, then the alphas.
 */
export function presentationDraw(seed: number, epoch: number, index: number, range: { maxX: number; maxY: number }, alphaStd = 0.1, components = 3): AugmentDraw {
  const random = new Random(hashSeed(seed, epoch, index));
  const x = random.int(range.maxX + 1);
  const y = random.int(range.maxY + 1);
  const flip = random.next() < 0.5;
  return { x, y, flip, alphas: drawAlphas(random, alphaStd, components) };
}

/** Where a crop comes from in the record, and whether it is mirrored. */
export interface CropWindow {
  x: number;
  y: number;
  height: number;
  width: number;
  flip: boolean;
}

/** writeAugmented's argument checks, shared with the WebAssembly path (augment-wasm.ts). */
export function checkAugmentArgs(
  src: Uint8Array,
  srcOffset: number,
  shape: ImageShape,
  window: CropWindow,
  shift: ArrayLike<number> | undefined,
  mean: Float32Array | undefined,
  dst: Float32Array,
  dstOffset: number,
): void {
  const [H, W, C] = shape;
  const { x, y, height: h, width: w } = window;
  if (!(x >= 0 && y >= 0 && x + w <= W && y + h <= H && Number.isInteger(x + y + w + h) && w > 0 && h > 0)) {
    throw new Error(`writeAugmented: a ${h}x${w} window at (x=${x}, y=${y}) must lie inside the ${H}x${W} record.`);
  }
  if (srcOffset < 0 || srcOffset + H * W * C > src.length) throw new Error(`writeAugmented: the record at ${srcOffset} runs past the end of src (${src.length} bytes).`);
  if (dstOffset < 0 || dstOffset + h * w * C > dst.length) throw new Error(`writeAugmented: ${h * w * C} values at ${dstOffset} do not fit in dst (${dst.length}).`);
  if (shift && shift.length !== C) throw new Error(`writeAugmented: the shift has ${shift.length} values for ${C} channels.`);
  if (mean !== undefined && mean.length !== H * W * C && mean.length !== C) throw new Error(`writeAugmented: the mean has ${mean.length} values; give ${H * W * C} (per pixel) or ${C} (per channel).`);
}

/**
 * The hot path: reads the window of a uint8 HWC record, mirrors it if asked, adds a
 * per-image constant (the lighting shift) and subtracts the mean, writing float32
 * HWC into dst at dstOffset. One pass; equal to
 *   reflect?(cropImage(subtractMean(pcaLighting(record, ...), mean), window))
 * up to float32 rounding. `mean` is a per-pixel mean image (H*W*C, read at the
 * source pixel) or one value per channel, or undefined for none.
 */
export function writeAugmented(
  src: Uint8Array,
  srcOffset: number,
  shape: ImageShape,
  window: CropWindow,
  shift: ArrayLike<number> | undefined,
  mean: Float32Array | undefined,
  dst: Float32Array,
  dstOffset: number,
): void {
  checkAugmentArgs(src, srcOffset, shape, window, shift, mean, dst, dstOffset);
  const [H, W, C] = shape;
  const { x, y, height: h, width: w, flip } = window;
  const perPixel = mean !== undefined && mean.length === H * W * C;
  // A per-channel mean is a per-image constant too: fold it into the shift.
  const k = new Float64Array(C);
  for (let c = 0; c < C; c++) k[c] = (shift ? shift[c] : 0) - (mean !== undefined && !perPixel ? mean[c] : 0);
  if (C === 3) {
    if (perPixel) writeRgbPerPixelMean(src, srcOffset, W, x, y, h, w, flip, k[0], k[1], k[2], mean as Float32Array, dst, dstOffset);
    else writeRgbConstant(src, srcOffset, W, x, y, h, w, flip, k[0], k[1], k[2], dst, dstOffset);
    return;
  }
  for (let r = 0; r < h; r++) {
    for (let j = 0; j < w; j++) {
      const at = ((y + r) * W + x + (flip ? w - 1 - j : j)) * C;
      const o = dstOffset + (r * w + j) * C;
      for (let c = 0; c < C; c++) dst[o + c] = src[srcOffset + at + c] + k[c] - (perPixel ? (mean as Float32Array)[at + c] : 0);
    }
  }
}

// The two RGB loops walk a source row forwards (backwards when mirrored), four
// pixels per iteration and then one at a time for the rest: unrolled this way V8's
// code runs about a third faster than one pixel per iteration. Keeping them
// separate and monomorphic lets V8 compile each to tight machine code.
function writeRgbPerPixelMean(src: Uint8Array, so: number, W: number, x: number, y: number, h: number, w: number, flip: boolean, k0: number, k1: number, k2: number, mean: Float32Array, dst: Float32Array, o: number): void {
  const quads = (w >> 2) * 12;
  for (let r = 0; r < h; r++) {
    const end = o + w * 3;
    const fast = o + quads;
    if (!flip) {
      let m = ((y + r) * W + x) * 3;
      let s = so + m;
      for (; o < fast; o += 12, s += 12, m += 12) {
        dst[o] = src[s] - mean[m] + k0;
        dst[o + 1] = src[s + 1] - mean[m + 1] + k1;
        dst[o + 2] = src[s + 2] - mean[m + 2] + k2;
        dst[o + 3] = src[s + 3] - mean[m + 3] + k0;
        dst[o + 4] = src[s + 4] - mean[m + 4] + k1;
        dst[o + 5] = src[s + 5] - mean[m + 5] + k2;
        dst[o + 6] = src[s + 6] - mean[m + 6] + k0;
        dst[o + 7] = src[s + 7] - mean[m + 7] + k1;
        dst[o + 8] = src[s + 8] - mean[m + 8] + k2;
        dst[o + 9] = src[s + 9] - mean[m + 9] + k0;
        dst[o + 10] = src[s + 10] - mean[m + 10] + k1;
        dst[o + 11] = src[s + 11] - mean[m + 11] + k2;
      }
      for (; o < end; o += 3, s += 3, m += 3) {
        dst[o] = src[s] - mean[m] + k0;
        dst[o + 1] = src[s + 1] - mean[m + 1] + k1;
        dst[o + 2] = src[s + 2] - mean[m + 2] + k2;
      }
    } else {
      // m and s point at the source pixel that lands at output column 0 (the window's last).
      let m = ((y + r) * W + x + w - 1) * 3;
      let s = so + m;
      for (; o < fast; o += 12, s -= 12, m -= 12) {
        dst[o] = src[s] - mean[m] + k0;
        dst[o + 1] = src[s + 1] - mean[m + 1] + k1;
        dst[o + 2] = src[s + 2] - mean[m + 2] + k2;
        dst[o + 3] = src[s - 3] - mean[m - 3] + k0;
        dst[o + 4] = src[s - 2] - mean[m - 2] + k1;
        dst[o + 5] = src[s - 1] - mean[m - 1] + k2;
        dst[o + 6] = src[s - 6] - mean[m - 6] + k0;
        dst[o + 7] = src[s - 5] - mean[m - 5] + k1;
        dst[o + 8] = src[s - 4] - mean[m - 4] + k2;
        dst[o + 9] = src[s - 9] - mean[m - 9] + k0;
        dst[o + 10] = src[s - 8] - mean[m - 8] + k1;
        dst[o + 11] = src[s - 7] - mean[m - 7] + k2;
      }
      for (; o < end; o += 3, s -= 3, m -= 3) {
        dst[o] = src[s] - mean[m] + k0;
        dst[o + 1] = src[s + 1] - mean[m + 1] + k1;
        dst[o + 2] = src[s + 2] - mean[m + 2] + k2;
      }
    }
  }
}

function writeRgbConstant(src: Uint8Array, so: number, W: number, x: number, y: number, h: number, w: number, flip: boolean, k0: number, k1: number, k2: number, dst: Float32Array, o: number): void {
  const quads = (w >> 2) * 12;
  for (let r = 0; r < h; r++) {
    const end = o + w * 3;
    const fast = o + quads;
    if (!flip) {
      let s = so + ((y + r) * W + x) * 3;
      for (; o < fast; o += 12, s += 12) {
        dst[o] = src[s] + k0;
        dst[o + 1] = src[s + 1] + k1;
        dst[o + 2] = src[s + 2] + k2;
        dst[o + 3] = src[s + 3] + k0;
        dst[o + 4] = src[s + 4] + k1;
        dst[o + 5] = src[s + 5] + k2;
        dst[o + 6] = src[s + 6] + k0;
        dst[o + 7] = src[s + 7] + k1;
        dst[o + 8] = src[s + 8] + k2;
        dst[o + 9] = src[s + 9] + k0;
        dst[o + 10] = src[s + 10] + k1;
        dst[o + 11] = src[s + 11] + k2;
      }
      for (; o < end; o += 3, s += 3) {
        dst[o] = src[s] + k0;
        dst[o + 1] = src[s + 1] + k1;
        dst[o + 2] = src[s + 2] + k2;
      }
    } else {
      let s = so + ((y + r) * W + x + w - 1) * 3;
      for (; o < fast; o += 12, s -= 12) {
        dst[o] = src[s] + k0;
        dst[o + 1] = src[s + 1] + k1;
        dst[o + 2] = src[s + 2] + k2;
        dst[o + 3] = src[s - 3] + k0;
        dst[o + 4] = src[s - 2] + k1;
        dst[o + 5] = src[s - 1] + k2;
        dst[o + 6] = src[s - 6] + k0;
        dst[o + 7] = src[s - 5] + k1;
        dst[o + 8] = src[s - 4] + k2;
        dst[o + 9] = src[s - 9] + k0;
        dst[o + 10] = src[s - 8] + k1;
        dst[o + 11] = src[s - 7] + k2;
      }
      for (; o < end; o += 3, s -= 3) {
        dst[o] = src[s] + k0;
        dst[o + 1] = src[s + 1] + k1;
        dst[o + 2] = src[s + 2] + k2;
      }
    }
  }
}
