// Published single-model ImageNet results to set a learner's numbers beside.
// Each row names its source; the course's own reference sheet
// (shared/reference/alexnet-facts.md) checked every figure against it.

export interface ReferenceResult {
  who: string;
  /** What was measured: dataset, split, test protocol. */
  setting: string;
  model: string;
  top1Error: number;
  top5Error: number;
  /** "centre" (one 224 crop), "10-patch" (the paper's average over ten patches). */
  protocol: "centre" | "10-patch";
  source: string;
}

export const REFERENCE_RESULTS: readonly ReferenceResult[] = [
  {
    who: "the paper",
    setting: "ILSVRC-2010 test, 1000 classes, 1.2 M training images, 90 epochs",
    model: "AlexNet, two towers",
    top1Error: 0.375,
    top5Error: 0.17,
    protocol: "10-patch",
    source: "Krizhevsky et al. 2012, section 6, Table 1",
  },
  {
    who: "the paper",
    setting: "ILSVRC-2010 test, same network",
    model: "AlexNet, two towers",
    top1Error: 0.39,
    top5Error: 0.183,
    protocol: "centre",
    source: "Krizhevsky et al. 2012, section 6 (without averaging the ten patches)",
  },
  {
    who: "the paper",
    setting: "ILSVRC-2012 validation",
    model: "AlexNet, 1 CNN",
    top1Error: 0.407,
    top5Error: 0.182,
    protocol: "10-patch",
    source: "Krizhevsky et al. 2012, Table 2",
  },
  {
    who: "original code (cuda-convnet)",
    setting: "ILSVRC-2012 validation, epoch 91",
    model: "layers-145.cfg, two towers",
    top1Error: 0.4066,
    top5Error: 0.1821,
    protocol: "10-patch",
    source: "cuda-convnet layers-145.cfg results",
  },
  {
    who: "Caffe (bvlc_alexnet)",
    setting: "ILSVRC-2012 validation, 450k iterations of 256",
    model: "AlexNet, groups 2, crop 227",
    top1Error: 1 - 0.571,
    top5Error: 1 - 0.802,
    protocol: "centre",
    source: "BVLC/caffe: models/bvlc_alexnet/readme.md",
  },
  {
    who: "torchvision (IMAGENET1K_V1)",
    setting: "ILSVRC-2012 validation, 90 epochs",
    model: "one tower 64-192-384-256-256, no LRN",
    top1Error: 1 - 0.56522,
    top5Error: 1 - 0.79066,
    protocol: "centre",
    source: "pytorch/vision: torchvision/models/alexnet.py",
  },
];

/** What 10-patch testing bought the paper: centre-only error minus 10-patch error, ILSVRC-2010 test. */
export function paperTenPatchGain(): { top1: number; top5: number } {
  const ten = REFERENCE_RESULTS[0];
  const centre = REFERENCE_RESULTS[1];
  return { top1: centre.top1Error - ten.top1Error, top5: centre.top5Error - ten.top5Error };
}
