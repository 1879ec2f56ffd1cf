// Where the paper's "rescale the shorter side to 256, crop the central
// 256x256 patch" lands, in whole pixels. The numbers follow torchvision's
// Resize(size) then CenterCrop(size) so that our 256x256 images can be compared
// pixel for pixel with the ones a PyTorch pipeline makes:
//   torchvision/transforms/functional.py  _compute_resized_output_size
//   torchvision/transforms/v2/functional/_geometry.py  _center_crop_compute_crop_anchor

/** The resize target and the crop window of one image (all in whole pixels). */
export interface ResizeCropGeometry {
  /** Width after rescaling (the shorter side becomes `size`). */
  resizeWidth: number;
  /** Height after rescaling. */
  resizeHeight: number;
  /** Left edge of the centre crop in the rescaled image. */
  left: number;
  /** Top edge of the centre crop in the rescaled image. */
  top: number;
  /** Side of the square crop, i.e. of the output. */
  size: number;
}

function checkDimension(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive whole number of pixels, got ${value}`);
  }
}

/**
 * Python 3's round(): halves go to the even neighbour (round(0.5) = 0,
 * round(1.5) = 2, round(2.5) = 2). torchvision's centre crop uses it, and the
 * crop offset (W - 256) / 2 is a half whenever W is odd, so Math.round (halves
 * up) would put the crop one pixel off for every odd-sized image.
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`roundHalfEven needs a finite number, got ${x}`);
  const floor = Math.floor(x);
  const frac = x - floor;
  if (frac < 0.5) return floor;
  if (frac > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Size after torchvision's Resize(size) with an int size: the shorter side
 * becomes `size`, the longer one `int(size * long / short)`. Python's int()
 * truncates; Math.trunc on the same IEEE double product and quotient gives the
 * same integer.
 */
export function resizeShorterSide(width: number, height: number, size: number): { width: number; height: number } {
  checkDimension("width", width);
  checkDimension("height", height);
  checkDimension("size", size);
  const portrait = width <= height; // torchvision's tie-break: a square counts as "w <= h"
  const short = portrait ? width : height;
  const long = portrait ? height : width;
  const newLong = Math.trunc((size * long) / short);
  return portrait ? { width: size, height: newLong } : { width: newLong, height: size };
}

/** Top-left corner of a centred crop, torchvision's `int(round((image - crop) / 2.0))` on each axis. */
export function centerCropOffset(
  imageWidth: number,
  imageHeight: number,
  cropWidth: number,
  cropHeight: number,
): { left: number; top: number } {
  checkDimension("imageWidth", imageWidth);
  checkDimension("imageHeight", imageHeight);
  checkDimension("cropWidth", cropWidth);
  checkDimension("cropHeight", cropHeight);
  // torchvision pads when the crop is larger; after a shorter-side resize that cannot happen, so refuse instead.
  if (cropWidth > imageWidth || cropHeight > imageHeight) {
    throw new RangeError(`crop ${cropWidth}x${cropHeight} does not fit in an image of ${imageWidth}x${imageHeight}`);
  }
  return {
    left: roundHalfEven((imageWidth - cropWidth) / 2),
    top: roundHalfEven((imageHeight - cropHeight) / 2),
  };
}

/** Resize(size) then CenterCrop(size) for an image of width x height (oriented, as displayed). */
export function resizeCropGeometry(width: number, height: number, size: number): ResizeCropGeometry {
  const resized = resizeShorterSide(width, height, size);
  const { left, top } = centerCropOffset(resized.width, resized.height, size, size);
  return { resizeWidth: resized.width, resizeHeight: resized.height, left, top, size };
}
