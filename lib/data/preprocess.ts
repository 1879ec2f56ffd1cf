// The paper's preprocessing (section 2): rescale so the shorter side is 256,
// then cut out the central 256x256 patch. Output is RGB uint8, HWC.
//
// One sharp (libvips) pipeline per image: decode -> orient -> colour to sRGB
// -> resize to geometry.ts's exact size -> crop at geometry.ts's exact corner
// -> raw bytes. Nothing is re-encoded.
//
// Normalising what real collections contain, against what torchvision does
// (PIL `Image.open(f).convert("RGB")`, then Resize, then CenterCrop):
// - EXIF orientation is applied first, and the geometry uses the oriented
//   size. (PIL's loader ignores orientation unless ImageOps.exif_transpose is
//   called; we follow what a viewer shows.)
// - Grayscale becomes RGB by copying the channel three times (as PIL's L->RGB).
// - 16-bit images keep the high byte of each sample (0x80FF -> 0x80), as PIL
//   does when it opens a 16-bit RGB PNG. (For 16-bit grayscale PIL clips to
//   255 instead, a known Pillow pitfall we do not copy.)
// - Palette images are expanded through their palette (as PIL's P->RGB).
// - Alpha is dropped, not composited: PIL's convert("RGB") from RGBA/LA/PA
//   simply discards the alpha band, keeping whatever colour sits under
//   transparent pixels. sharp's flatten() would composite onto a background,
//   and removeAlpha() inside a resizing pipeline runs after a premultiplied
//   resize (transparent areas turn black), so images with alpha are decoded
//   with alpha removed first and resized in a second step.
// - CMYK and embedded ICC profiles are converted to sRGB through the profile
//   (sharp's default). PIL ignores ICC profiles and converts CMYK with a
//   plain formula, no profile, so colours differ there, deliberately: the
//   converted colours are the ones the photographer saw.
import sharp from "sharp";
import type { Metadata, Sharp } from "sharp";
import { resizeCropGeometry, type ResizeCropGeometry } from "./geometry";
import type { SourceImage, SourceRecord } from "./types";

/** sharp's resampling kernels. */
export type ResizeKernel = "nearest" | "linear" | "cubic" | "mitchell" | "lanczos2" | "lanczos3";

export const RESIZE_KERNELS: readonly ResizeKernel[] = ["nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3"];

/**
 * torchvision's Resize defaults to BILINEAR with antialias, i.e. PIL's
 * triangle filter widened by the shrink factor. libvips' "linear" reduce
 * builds the same widened triangle: on a 500x375 image it lands within 2 grey
 * levels of Pillow (mean 0.22), where sharp's own default, lanczos3, is 1.7
 * off on average (see the test). Differences that remain: libvips
 * box-shrinks by an integer factor first when reducing by 4x or more (its
 * "gap" of 2, like PIL's reducing_gap=2, which torchvision leaves off), it
 * places the filter on a 1/64 pixel grid, and JPEG decoders may differ.
 */
export const DEFAULT_KERNEL: ResizeKernel = "linear";

/** sharp's own default limit, 0x3FFF * 0x3FFF: far above any photo, below a decompression bomb. */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

/** How strict decoding is: see sharp's `failOn`. */
export type DecodeStrictness = "truncated" | "error" | "warning";

export interface PreprocessOptions {
  /** Side of the square output (256 in the paper; 32 or 64 for small data sets). */
  size?: number;
  /** Resampling kernel, default "linear" (closest to torchvision's bilinear). */
  kernel?: ResizeKernel;
  /** Refuse images with more pixels than this (width x height), default 0x3FFF^2. */
  maxPixels?: number;
  /**
   * "truncated" (default) refuses files whose data ends early, as PIL does by
   * default (LOAD_TRUNCATED_IMAGES = False), and decodes files whose decoder
   * only warns (e.g. "extraneous bytes before marker"), as PIL does. "error"
   * and "warning" are stricter.
   */
  failOn?: DecodeStrictness;
}

export interface PreprocessedImage {
  /** size * size * 3 bytes, row-major HWC, RGB. */
  pixels: Uint8Array;
  /** Width of the source as displayed (after EXIF orientation). */
  sourceWidth: number;
  /** Height of the source as displayed (after EXIF orientation). */
  sourceHeight: number;
  geometry: ResizeCropGeometry;
}

export interface DecodedImage {
  /** width * height * 3 bytes, row-major HWC, RGB. */
  pixels: Uint8Array;
  width: number;
  height: number;
}

/**
 * Why an image was skipped:
 * - "empty file": zero bytes.
 * - "not an image": sharp does not recognise the bytes as a raster format it
 *   reads (JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF), or it is a vector format.
 * - "corrupt or truncated": recognised, but the header or the pixel data is
 *   broken or ends early (also raw pixels whose length does not match).
 * - "too many pixels": width x height over `maxPixels`.
 * - "unreadable": the bytes could not be read at all (load() rejected:
 *   missing file, no permission, ...).
 */
export type BadImageReason = "empty file" | "not an image" | "corrupt or truncated" | "too many pixels" | "unreadable";

const FIXES: Record<BadImageReason, string> = {
  "empty file": "re-download the file or delete it",
  "not an image": "convert it to JPEG or PNG, or remove it from the data set",
  "corrupt or truncated": "re-download the file or delete it",
  "too many pixels": "raise the limit if the image is genuine (--max-pixels N on alexnet prepare and predict, maxPixels in lib), or downscale the file",
  unreadable: "check that the file exists and that its permissions allow reading",
};

/** What to do about an image skipped for this reason; undefined for a reason not named here. */
export function fixFor(reason: string): string | undefined {
  return (FIXES as Record<string, string>)[reason];
}

/** An image that cannot be used, with the reason; callers skip it and report. */
export class BadImageError extends Error {
  readonly reason: BadImageReason;
  readonly detail: string;
  /** Where the image came from (a path, "data_batch_1.bin#1234"), when known. */
  readonly origin: string | undefined;

  constructor(reason: BadImageReason, detail: string, origin?: string) {
    super(`${origin === undefined ? "" : `${origin}: `}${reason}: ${detail}; ${FIXES[reason]}`);
    this.name = "BadImageError";
    this.reason = reason;
    this.detail = detail;
    this.origin = origin;
  }

  /** The same error, naming where the image came from. */
  withOrigin(origin: string): BadImageError {
    return new BadImageError(this.reason, this.detail, origin);
  }
}

/** Turns a rejection of `SourceRecord.load()` into a BadImageError ("unreadable"), keeping the system error code. */
export function classifyLoadError(err: unknown): BadImageError {
  if (err instanceof BadImageError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = e && typeof e.message === "string" ? e.message : String(err);
  const code = e && typeof e.code === "string" ? e.code : undefined;
  return new BadImageError("unreadable", code !== undefined && !message.includes(code) ? `${code}: ${message}` : message);
}

// Magic numbers of the formats sharp reads, to tell "broken JPEG" from "not an
// image" when sharp only says "unsupported image format" (a truncated TIFF).
function looksLikeImage(data: Uint8Array): string | undefined {
  const at = (offset: number, ...bytes: number[]) => bytes.every((b, i) => data[offset + i] === b);
  const ascii = (offset: number, s: string) => at(offset, ...Array.from(s, (c) => c.charCodeAt(0)));
  if (at(0, 0xff, 0xd8, 0xff)) return "JPEG";
  if (at(0, 0x89, 0x50, 0x4e, 0x47)) return "PNG";
  if (ascii(0, "GIF8")) return "GIF";
  if (ascii(0, "II*\0") || ascii(0, "MM\0*")) return "TIFF";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "WebP";
  if (ascii(4, "ftyp")) return "HEIF/AVIF";
  return undefined;
}

// libvips can repeat a line many times (AVIF: "source: bad seek to ..."); keep the informative ones.
function tidy(message: string): string {
  const lines = message.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^source: bad seek/.test(l));
  const unique = lines.filter((l, i) => lines.indexOf(l) === i);
  const text = unique.join(" / ");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/**
 * Turns an error from sharp decoding `data` into a BadImageError. sharp's
 * errors are plain Errors with libvips' text, so the reason is read from the
 * message.
 */
export function classifySharpError(err: unknown, data?: Uint8Array): BadImageError {
  if (err instanceof BadImageError) return err;
  const message = tidy(err instanceof Error ? err.message : String(err));
  if (/buffer is empty/i.test(message)) return new BadImageError("empty file", "0 bytes");
  if (/exceeds pixel limit/i.test(message)) return new BadImageError("too many pixels", message);
  if (/unsupported image format/i.test(message)) {
    const format = data === undefined ? undefined : looksLikeImage(data);
    return format === undefined
      ? new BadImageError("not an image", `sharp does not recognise the format (${message})`)
      : new BadImageError("corrupt or truncated", `starts like a ${format} file but sharp cannot read it (${message})`);
  }
  return new BadImageError("corrupt or truncated", message);
}

/** Formats taken as photographs; sharp also renders SVG, at an arbitrary density. */
const RASTER_FORMATS = new Set(["jpeg", "png", "webp", "gif", "tiff", "heif"]);

interface Resolved {
  size: number;
  kernel: ResizeKernel;
  maxPixels: number;
  failOn: DecodeStrictness;
}

function resolveOptions(opts: PreprocessOptions): Resolved {
  const size = opts.size ?? 256;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`preprocess: size must be a positive whole number of pixels, got ${size}`);
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  if (!RESIZE_KERNELS.includes(kernel)) throw new RangeError(`preprocess: kernel must be one of ${RESIZE_KERNELS.join(", ")}, got ${String(kernel)}`);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(maxPixels) || maxPixels < 1) throw new RangeError(`preprocess: maxPixels must be a positive whole number, got ${maxPixels}`);
  const failOn = opts.failOn ?? "truncated";
  if (!["truncated", "error", "warning"].includes(failOn)) throw new RangeError(`preprocess: failOn must be "truncated", "error" or "warning", got ${String(failOn)}`);
  return { size, kernel, maxPixels, failOn };
}

function tooManyPixels(width: number, height: number, maxPixels: number): BadImageError {
  return new BadImageError("too many pixels", `${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels}`);
}

function checkRaw(input: { data: Uint8Array; width: number; height: number; channels: number }, maxPixels: number): void {
  const { data, width, height, channels } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new BadImageError("corrupt or truncated", `raw image has size ${width}x${height}; width and height must be positive whole numbers`);
  }
  if (channels !== 1 && channels !== 3) throw new BadImageError("corrupt or truncated", `raw image has ${channels} channels; only 1 (gray) or 3 (RGB) are read`);
  if (width * height > maxPixels) throw tooManyPixels(width, height, maxPixels);
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw new BadImageError("corrupt or truncated", `raw image has ${data.length} bytes, expected ${width}x${height}x${channels} = ${expected}`);
  }
}

/** Reads the header; refuses empty, unknown, vector and oversized inputs before any pixel is decoded. */
async function openEncoded(
  data: Buffer,
  r: Resolved,
): Promise<{ image: Sharp; width: number; height: number; hasAlpha: boolean }> {
  if (data.length === 0) throw new BadImageError("empty file", "0 bytes");
  const image = sharp(data, { failOn: r.failOn, limitInputPixels: r.maxPixels, autoOrient: true });
  let meta: Metadata;
  try {
    meta = await image.metadata();
  } catch (err) {
    const bad = classifySharpError(err, data);
    if (bad.reason !== "too many pixels") throw bad;
    // sharp refuses before telling the size; read the header again without the limit to report it.
    const m = await sharp(data, { limitInputPixels: false }).metadata().catch(() => undefined);
    throw m === undefined ? bad : tooManyPixels(m.width, m.pageHeight ?? m.height, r.maxPixels);
  }
  if (!RASTER_FORMATS.has(meta.format)) {
    throw new BadImageError("not an image", `${meta.format} is not a raster photo format (read: ${[...RASTER_FORMATS].join(", ")})`);
  }
  // Multi-page files (GIF, TIFF) are read at their first page, like PIL.
  const pageHeight = meta.pageHeight ?? meta.height;
  if (meta.width * pageHeight > r.maxPixels) throw tooManyPixels(meta.width, pageHeight, r.maxPixels);
  // sharp converts 16-bit RGB with an embedded profile to Display P3, not sRGB,
  // and raw output keeps those numbers; an output profile of sRGB converts them back.
  if (meta.space === "rgb16" && meta.hasProfile) image.withIccProfile("srgb");
  // EXIF orientations 5-8 turn the image a quarter: the displayed width is the stored height.
  const swapped = (meta.orientation ?? 1) >= 5;
  return { image, width: swapped ? pageHeight : meta.width, height: swapped ? meta.width : pageHeight, hasAlpha: meta.hasAlpha };
}

/** Resize then crop, as geometry.ts says, and take raw RGB bytes. */
async function resizeAndCrop(image: Sharp, width: number, height: number, r: Resolved): Promise<PreprocessedImage> {
  const geometry = resizeCropGeometry(width, height, r.size);
  const { resizeWidth, resizeHeight, left, top, size } = geometry;
  let pipeline = image;
  if (resizeWidth !== width || resizeHeight !== height) {
    // fit "fill": exactly geometry.ts's dimensions, not sharp's own rounding.
    // JPEG shrink-on-load (libjpeg decoding at 1/2, 1/4, 1/8 scale, a DCT-domain
    // box filter) stays on for speed; fastShrinkOnLoad: false leaves at least a 2x
    // reduction to the kernel, so it only touches sources over 4x the target
    // (about 1024 pixels on the short side) and changes them slightly.
    pipeline = pipeline.resize(resizeWidth, resizeHeight, { fit: "fill", kernel: r.kernel, fastShrinkOnLoad: false });
  }
  if (resizeWidth !== size || resizeHeight !== size) {
    pipeline = pipeline.extract({ left, top, width: size, height: size });
  }
  // raw() with sharp's default output colourspace (sRGB): gray, CMYK, 16-bit all arrive as 3 x 8 bits.
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3) {
    throw new Error(`preprocess: sharp returned ${info.width}x${info.height}x${info.channels} (${data.length} bytes), expected ${size}x${size}x3; check the sharp version (tested with 0.35)`);
  }
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), sourceWidth: width, sourceHeight: height, geometry };
}

/**
 * Rescales the shorter side to `size` and cuts out the central size x size
 * patch (the paper's 256x256 images). Rejects with a BadImageError for inputs
 * that cannot be used; any other rejection is a bug or a machine problem.
 */
export async function preprocessImage(input: SourceImage, opts: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const r = resolveOptions(opts);
  if (input.kind === "raw") {
    checkRaw(input, r.maxPixels);
    const { width, height, channels } = input;
    return resizeAndCrop(sharp(input.data, { raw: { width, height, channels } }), width, height, r);
  }
  const data = input.data;
  const opened = await openEncoded(data, r);
  try {
    if (!opened.hasAlpha) return await resizeAndCrop(opened.image, opened.width, opened.height, r);
    // Drop alpha before resizing, as PIL does (see the top of this file).
    const rgb = await opened.image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const { width, height, channels } = rgb.info;
    if (channels !== 3) throw new Error(`preprocess: removing alpha left ${channels} channels, expected 3; check the sharp version (tested with 0.35)`);
    return await resizeAndCrop(sharp(rgb.data, { raw: { width, height, channels } }), width, height, r);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith("preprocess:")) throw err;
    throw classifySharpError(err, data);
  }
}

/**
 * Decodes to full-size RGB (oriented, alpha dropped) without resizing: the
 * upper bound on preprocessImage's throughput, since decoding is the part no
 * pipeline avoids. It reads no header first, so it skips preprocessImage's
 * format check and the 16-bit profile correction.
 */
export async function decodeOnly(input: SourceImage, opts: Pick<PreprocessOptions, "maxPixels" | "failOn"> = {}): Promise<DecodedImage> {
  const r = resolveOptions(opts);
  let image: Sharp;
  if (input.kind === "raw") {
    checkRaw(input, r.maxPixels);
    image = sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels } });
  } else {
    if (input.data.length === 0) throw new BadImageError("empty file", "0 bytes");
    image = sharp(input.data, { failOn: r.failOn, limitInputPixels: r.maxPixels, autoOrient: true }).removeAlpha();
  }
  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    decoded = await image.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw classifySharpError(err, input.data);
  }
  const { data, info } = decoded;
  if (info.channels !== 3) throw new Error(`preprocess: sharp decoded ${info.channels} channels, expected 3; check the sharp version (tested with 0.35)`);
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** What preprocessRecord gives back: the image, or why it was skipped. */
export type RecordResult = { status: "ok"; image: PreprocessedImage } | { status: "bad"; error: BadImageError };

/**
 * load() then preprocessImage(), with every bad-input outcome caught and
 * labelled with the record's origin, so a caller can count and report skips.
 */
export async function preprocessRecord(record: SourceRecord, opts: PreprocessOptions = {}): Promise<RecordResult> {
  let input: SourceImage;
  try {
    input = await record.load();
  } catch (err) {
    return { status: "bad", error: classifyLoadError(err).withOrigin(record.origin) };
  }
  try {
    return { status: "ok", image: await preprocessImage(input, opts) };
  } catch (err) {
    if (err instanceof BadImageError) return { status: "bad", error: err.withOrigin(record.origin) };
    throw err;
  }
}
