// The paper's claims as experiments: each names the one setting that differs
// between a control and a treatment configuration, the metric it is judged on,
// and the paper's own figure with where it says so. The figures were checked
// against shared/reference/alexnet-facts.md (which cites the paper's sections).
// Effects are treatment minus control: an error the treatment lowers is negative.
//
// Configurations are overrides of the training run (lib/train/trainer.ts's
// TrainOptions) on top of the profile's recipe; lib/claims/harness.ts runs them.
// ReLU against tanh is the one claim on another network and loop: Figure 1's
// four-layer stand-in (lib/model/figure1.ts), trained in memory by
// lib/train/experiments.ts, each unit at its own best learning rate.
import type { AlexNetOptions } from "../model/alexnet";

/** The settings a claim may change: a subset of the trainer's options. */
export interface ClaimSettings {
  modelOptions?: Pick<AlexNetOptions, "lrn" | "pooling" | "dropout" | "towers" | "omitConv" | "hiddenBias" | "init">;
  /** Pixels (mean-subtracted, 0..255) times this before the network; the paper's initialisation wants 1. */
  inputScale?: number;
  cropsAndReflections?: boolean;
  lighting?: number;
  /** Figure 1's network: its units. */
  activation?: "relu" | "tanh";
  /** Test-time: "ten-crop" averages the softmax over the paper's ten patches. */
  protocol?: "center" | "ten-crop";
}

export interface Configuration {
  name: string;
  settings: ClaimSettings;
}

/**
 * What a claim is judged on. valTop1Error and valTop5Error: the last epoch's
 * validation errors. overfittingGap: validation top-1 minus training top-1, both
 * of the last epoch's model in inference mode on the centre patch (the training
 * error measured on the training split after training, not the trainer's count
 * on augmented batches with dropout on, which a treatment's own augmentation would lower).
 * earlyTrainTop1Error: that training error over the first epoch alone, for
 * claims about "the early stages of learning". stepsToTarget: optimiser steps
 * until the training error is first at or below 25% (Figure 1), compared as a
 * ratio on the log scale. epochsToTarget: epochs to converge, that is until the
 * validation top-1 (inference mode, so dropout's noise is not counted against
 * it) is within a tenth of the control's improvement over chance of the
 * control's best in the same seed (lib/claims/reading.ts's convergence),
 * interpolated between epochs, the budget when not reached; also a log-ratio.
 * (Epochs, not steps: both configurations have the same batch size, so the ratio is the same.)
 */
export type ClaimMetric = "valTop1Error" | "valTop5Error" | "overfittingGap" | "earlyTrainTop1Error" | "stepsToTarget" | "epochsToTarget";

export interface PaperFigure {
  metric: ClaimMetric;
  /** The direction the paper reports: -1 when the treatment lowers the metric. */
  sign: -1 | 1;
  /** The paper's size of the effect (signed, in the metric's units; for a ratio, treatment / control), when it gives one. */
  value?: number;
  /** The paper's words. */
  says: string;
}

export interface Claim {
  id: string;
  title: string;
  /** Section of the NeurIPS 2012 paper. */
  section: string;
  /** The one setting the two configurations differ in, as a path into ClaimSettings. */
  setting: string;
  control: Configuration;
  treatment: Configuration;
  figures: PaperFigure[];
  /** Needs colour images (PCA lighting works on the RGB covariance): not applicable on greyscale data. */
  colour?: boolean;
  /** Judged on one trained model tested two ways, paired by image (McNemar), not on two trainings. */
  testTime?: boolean;
  /** Trained as Figure 1: the four-layer network in memory, steps to a training error. */
  figure1?: boolean;
  source: string;
}

export const PAPER_CLAIMS: readonly Claim[] = [
  {
    id: "relu",
    title: "ReLUs train faster than tanh units (Figure 1)",
    section: "3.1",
    setting: "activation",
    control: { name: "ReLU", settings: { activation: "relu" } },
    treatment: { name: "tanh", settings: { activation: "tanh" } },
    figures: [
      {
        metric: "stepsToTarget",
        sign: 1,
        value: 6,
        says: "A four-layer convolutional neural network with ReLUs (solid line) reaches a 25% training error rate on CIFAR-10 six times faster than an equivalent network with tanh neurons",
      },
    ],
    figure1: true,
    source: "Krizhevsky et al. 2012, section 3.1 and Figure 1",
  },
  {
    id: "lrn",
    title: "Local response normalisation lowers the error",
    section: "3.3",
    setting: "modelOptions.lrn",
    control: { name: "no LRN", settings: { modelOptions: { lrn: false } } },
    treatment: { name: "LRN", settings: { modelOptions: { lrn: true } } },
    figures: [
      {
        metric: "valTop1Error",
        sign: -1,
        value: -0.014,
        says: "Response normalization reduces our top-1 and top-5 error rates by 1.4% and 1.2%",
      },
      { metric: "valTop5Error", sign: -1, value: -0.012, says: "(top-5) by 1.2%" },
    ],
    source: "Krizhevsky et al. 2012, section 3.3",
  },
  {
    id: "pooling",
    title: "Overlapping pooling (3/2) against non-overlapping (2/2)",
    section: "3.4",
    setting: "modelOptions.pooling",
    control: { name: "pooling 2/2", settings: { modelOptions: { pooling: "non-overlapping" } } },
    treatment: { name: "pooling 3/2", settings: { modelOptions: { pooling: "overlapping" } } },
    figures: [
      { metric: "valTop1Error", sign: -1, value: -0.004, says: "This scheme reduces the top-1 and top-5 error rates by 0.4% and 0.3%" },
      { metric: "valTop5Error", sign: -1, value: -0.003, says: "(top-5) by 0.3%" },
      { metric: "overfittingGap", sign: -1, says: "models with overlapping pooling find it slightly more difficult to overfit" },
    ],
    source: "Krizhevsky et al. 2012, section 3.4",
  },
  {
    id: "dropout",
    title: "Dropout 0.5 on fc6 and fc7 reduces overfitting",
    section: "4.2",
    setting: "modelOptions.dropout",
    control: { name: "no dropout", settings: { modelOptions: { dropout: 0 } } },
    treatment: { name: "dropout 0.5", settings: { modelOptions: { dropout: 0.5 } } },
    figures: [
      { metric: "overfittingGap", sign: -1, says: "Without dropout, our network exhibits substantial overfitting" },
      { metric: "epochsToTarget", sign: 1, value: 2, says: "Dropout roughly doubles the number of iterations required to converge" },
    ],
    source: "Krizhevsky et al. 2012, section 4.2",
  },
  {
    id: "crops",
    title: "Random crops and reflections reduce overfitting",
    section: "4.1",
    setting: "cropsAndReflections",
    control: { name: "centre crops", settings: { cropsAndReflections: false } },
    treatment: { name: "random crops and reflections", settings: { cropsAndReflections: true } },
    figures: [
      { metric: "overfittingGap", sign: -1, says: "Without this scheme, our network suffers from substantial overfitting" },
      { metric: "valTop1Error", sign: -1, says: "(implied: less overfitting, lower validation error)" },
    ],
    source: "Krizhevsky et al. 2012, section 4.1",
  },
  {
    id: "lighting",
    title: "PCA lighting lowers the top-1 error",
    section: "4.1",
    setting: "lighting",
    control: { name: "no lighting", settings: { lighting: 0 } },
    treatment: { name: "PCA lighting 0.1", settings: { lighting: 0.1 } },
    figures: [{ metric: "valTop1Error", sign: -1, value: -0.01, says: "This scheme reduces the top-1 error rate by over 1%" }],
    colour: true,
    source: "Krizhevsky et al. 2012, section 4.1",
  },
  {
    id: "towers",
    title: "Two towers against one with half the kernels",
    section: "3.2",
    setting: "modelOptions.towers",
    control: { name: "one tower, half the kernels", settings: { modelOptions: { towers: 1 } } },
    treatment: { name: "two towers", settings: { modelOptions: { towers: 2 } } },
    figures: [
      {
        metric: "valTop1Error",
        sign: -1,
        value: -0.017,
        says: "This scheme reduces our top-1 and top-5 error rates by 1.7% and 1.2%, respectively, as compared with a net with half as many kernels in each convolutional layer trained on one GPU",
      },
      { metric: "valTop5Error", sign: -1, value: -0.012, says: "(top-5) by 1.2%" },
    ],
    source:
      "Krizhevsky et al. 2012, section 3.2 and its footnote (the one-GPU net keeps the last conv layer and the FC layers at full size)",
  },
  {
    id: "depth",
    title: "Depth: the net with all five convolutional layers against one without conv4",
    section: "3.5, 7",
    setting: "modelOptions.omitConv",
    control: { name: "without conv4", settings: { modelOptions: { omitConv: "conv4" } } },
    treatment: { name: "all five", settings: { modelOptions: {} } },
    figures: [
      {
        metric: "valTop1Error",
        sign: -1,
        value: -0.02,
        says: "removing any of the middle layers results in a loss of about 2% for the top-1 performance of the network",
      },
    ],
    source: "Krizhevsky et al. 2012, section 7 (and 3.5: removing any convolutional layer resulted in inferior performance)",
  },
  {
    id: "biases",
    title: "Biases of 1 in conv2, conv4, conv5, fc6, fc7 speed up early learning",
    section: "5",
    setting: "modelOptions.hiddenBias",
    // The claim is about the paper's N(0, 0.01) weights, which want the paper's raw pixel scale.
    control: { name: "biases 0", settings: { modelOptions: { init: "paper", hiddenBias: 0 }, inputScale: 1 } },
    treatment: { name: "biases 1", settings: { modelOptions: { init: "paper", hiddenBias: 1 }, inputScale: 1 } },
    figures: [
      {
        metric: "earlyTrainTop1Error",
        sign: -1,
        says: "This initialization accelerates the early stages of learning by providing the ReLUs with positive inputs",
      },
    ],
    source: "Krizhevsky et al. 2012, section 5",
  },
  {
    id: "ten-patch",
    title: "Averaging ten patches at test time against the centre patch",
    section: "6",
    setting: "protocol",
    control: { name: "centre patch", settings: { protocol: "center" } },
    treatment: { name: "ten patches", settings: { protocol: "ten-crop" } },
    figures: [
      {
        metric: "valTop1Error",
        sign: -1,
        value: 0.375 - 0.39,
        says: "ILSVRC-2010 test: 37.5% top-1 with ten patches, 39.0% without averaging",
      },
      { metric: "valTop5Error", sign: -1, value: 0.17 - 0.183, says: "17.0% top-5 with ten patches, 18.3% without" },
    ],
    testTime: true,
    source: "Krizhevsky et al. 2012, section 6 and Table 1",
  },
];

/** The claim with this id, or an error listing the known ones. */
export function claimById(id: string): Claim {
  const claim = PAPER_CLAIMS.find((c) => c.id === id);
  if (!claim) throw new Error(`unknown claim "${id}"; the claims are: ${PAPER_CLAIMS.map((c) => c.id).join(", ")}.`);
  return claim;
}

/** Every path at which two settings objects differ ("modelOptions.lrn"), so a test can check a claim changes one thing. */
export function differingSettings(a: object, b: object, prefix = ""): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: string[] = [];
  for (const k of keys) {
    const x = (a as Record<string, unknown>)[k];
    const y = (b as Record<string, unknown>)[k];
    const here = prefix ? `${prefix}.${k}` : k;
    if (x !== null && y !== null && typeof x === "object" && typeof y === "object") out.push(...differingSettings(x, y, here));
    else if (x !== y) out.push(here);
  }
  return out;
}
