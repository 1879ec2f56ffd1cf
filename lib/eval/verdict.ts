// What a measured effect says about one of the paper's claims. An effect is
// treatment minus control, paired: by seed for training claims (the same
// initial weights, data order and augmentation draws, one setting changed), by
// image for test-time claims (one model, two ways of testing it). The verdict
// reads only the 95% interval's position against zero and the paper's sign:
// "reproduced" (same sign, zero excluded), "opposite" (zero excluded, other
// sign) or "below resolution" (zero inside: this many seeds or images cannot
// tell). Whether the interval also holds the paper's own figure is reported
// apart, since a small network on small data can agree in sign and not in size.
import { type MeanSd, pairedDifference, tQuantile975 } from "./stats";

export type Verdict = "reproduced" | "opposite" | "below resolution";

export interface Interval {
  mean: number;
  /** 95% interval; NaN when it cannot be computed (one seed). */
  low: number;
  high: number;
}

/** The verdict on a measured effect against the paper's signed figure (never 0: every claim has a direction). */
export function verdictOf(effect: Interval, paper: number): Verdict {
  if (!(Number.isFinite(paper) && paper !== 0))
    throw new Error(`verdictOf: the paper's effect must be a non-zero number (its sign is the claim), got ${paper}.`);
  if (!(Number.isFinite(effect.low) && Number.isFinite(effect.high))) return "below resolution";
  if (effect.low <= 0 && effect.high >= 0) return "below resolution";
  return Math.sign(effect.mean) === Math.sign(paper) ? "reproduced" : "opposite";
}

/** Whether the interval holds the paper's figure itself (the size, not only the sign). */
export function containsPaper(effect: Interval, paper: number): boolean {
  return Number.isFinite(effect.low) && Number.isFinite(effect.high) && effect.low <= paper && paper <= effect.high;
}

/**
 * How many seeds a paired t interval needs, at the measured spread of the
 * per-seed differences, before its half-width is below |paper|: the smallest n
 * with t(n - 1) * sd / sqrt(n) < |paper|. Undefined without a spread (one seed);
 * capped at `max` (returns Infinity beyond it), since an effect far below the
 * noise is not worth a number.
 */
export function seedsToResolve(sd: number, paper: number, max = 1000): number | undefined {
  if (!Number.isFinite(sd)) return undefined;
  if (sd === 0) return 2;
  for (let n = 2; n <= max; n++) if ((tQuantile975(n - 1) * sd) / Math.sqrt(n) < Math.abs(paper)) return n;
  return Infinity;
}

export interface SeedEffect extends Interval, MeanSd {
  kind: "difference" | "log-ratio";
  /** Treatment minus control for each seed (for "log-ratio": log treatment - log control). */
  perSeed: number[];
  /** The paper's figure on the same scale (a log for "log-ratio"); where the paper gives only a direction, its sign (±1), which the verdict reads. */
  paper: number;
  verdict: Verdict;
  containsPaper: boolean;
  seedsToResolve: number | undefined;
  /** For "log-ratio": the ratio treatment / control and its interval (exp of the log scale). */
  ratio?: { mean: number; low: number; high: number };
}

/** A difference of a metric (e.g. validation top-1 error) between two configurations, paired by seed. */
export function seedDifference(control: readonly number[], treatment: readonly number[], paper: number): SeedEffect {
  const d = pairedDifference(control, treatment);
  return {
    kind: "difference",
    ...d,
    perSeed: d.perPair,
    paper,
    verdict: verdictOf(d, paper),
    containsPaper: containsPaper(d, paper),
    seedsToResolve: seedsToResolve(d.sd, paper),
  };
}

/**
 * A ratio claim (ReLU's "six times faster", dropout's "roughly doubles the
 * iterations"), measured on the log scale so that the interval and the verdict
 * are defined there: log(treatment / control) per seed. `paperRatio` is the
 * paper's treatment / control (6 for tanh's steps over ReLU's).
 */
export function seedLogRatio(control: readonly number[], treatment: readonly number[], paperRatio: number): SeedEffect {
  for (const x of [...control, ...treatment])
    if (!(x > 0)) throw new Error(`seedLogRatio: a ratio needs positive values (steps, iterations), got ${x}.`);
  if (!(paperRatio > 0 && paperRatio !== 1))
    throw new Error(`seedLogRatio: the paper's ratio must be positive and not 1, got ${paperRatio}.`);
  const paper = Math.log(paperRatio);
  const d = pairedDifference(control.map(Math.log), treatment.map(Math.log));
  return {
    kind: "log-ratio",
    ...d,
    perSeed: d.perPair,
    paper,
    verdict: verdictOf(d, paper),
    containsPaper: containsPaper(d, paper),
    seedsToResolve: seedsToResolve(d.sd, paper),
    ratio: { mean: Math.exp(d.mean), low: Math.exp(d.low), high: Math.exp(d.high) },
  };
}

export interface PairedImagesEffect extends Interval {
  kind: "mcnemar";
  /** Validation images (the unit of the test), and how many models (seeds) answered each. */
  images: number;
  seeds: number;
  /** Images the treatment got right more often than the control, over the seeds. */
  fixed: number;
  /** Images the control got right more often than the treatment. */
  broken: number;
  /** Exact two-sided sign test on fixed against broken (McNemar's exact test with one seed). */
  p: number;
  paper: number;
  verdict: Verdict;
  containsPaper: boolean;
  /**
   * Validation images a test at this spread would need before its half-width is
   * below |paper|: (1.96 sd / paper)^2, sd that of the per-image differences
   * (with one seed, 1.96^2 (q - paper^2) / paper^2 for a discordance q).
   * Infinity when images change their answer so rarely that the paper's effect
   * cannot happen here at all (mean |difference| below |paper|).
   */
  imagesToResolve: number | undefined;
}

/** log C(n, k) by summing logs: exact enough for the few thousand images a validation split holds. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Exact two-sided McNemar test: P(at least as unbalanced) for Binomial(fixed + broken, 1/2). */
export function mcnemarP(fixed: number, broken: number): number {
  const n = fixed + broken;
  if (n === 0) return 1;
  const k = Math.min(fixed, broken);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/**
 * A test-time claim: error with the treatment minus error with the control, on
 * the same validation images, by the same models. `controlWrong[s][i]` says
 * whether seed s's model got image i wrong. The image is the unit: a model
 * trained on another seed sees the same hard images, so seeds are averaged
 * within each image, not counted as more images. The interval is a normal one
 * over the per-image differences (Wald's for paired proportions with one seed);
 * the exact sign test on the images that moved gives p, and the verdict needs
 * both: the interval excluding zero and p below 0.05, so few discordant images
 * cannot make a verdict on their own.
 */
export function pairedImages(
  controlWrong: readonly (readonly boolean[])[],
  treatmentWrong: readonly (readonly boolean[])[],
  paper: number,
): PairedImagesEffect {
  const seeds = controlWrong.length;
  if (seeds === 0 || treatmentWrong.length !== seeds)
    throw new Error(
      `pairedImages: ${seeds} control answer sheets against ${treatmentWrong.length} treatment ones; give one of each per seed.`,
    );
  const images = controlWrong[0].length;
  if (images === 0) throw new Error("pairedImages: no images.");
  for (const sheet of [...controlWrong, ...treatmentWrong])
    if (sheet.length !== images)
      throw new Error(`pairedImages: answer sheets of ${images} and ${sheet.length} images; every sheet must cover the same images.`);
  let fixed = 0;
  let broken = 0;
  let sum = 0;
  let sumSq = 0;
  let sumAbs = 0;
  for (let i = 0; i < images; i++) {
    let d = 0;
    for (let k = 0; k < seeds; k++) d += Number(treatmentWrong[k][i]) - Number(controlWrong[k][i]);
    if (d < 0) fixed++;
    if (d > 0) broken++;
    const x = d / seeds;
    sum += x;
    sumSq += x * x;
    sumAbs += Math.abs(x);
  }
  const mean = sum / images;
  const variance = Math.max(0, sumSq / images - mean * mean);
  const half = (1.96 * Math.sqrt(variance)) / Math.sqrt(images);
  const interval = { mean, low: mean - half, high: mean + half };
  const p = mcnemarP(fixed, broken);
  const byInterval = verdictOf(interval, paper);
  return {
    kind: "mcnemar",
    ...interval,
    images,
    seeds,
    fixed,
    broken,
    p,
    paper,
    verdict: p < 0.05 ? byInterval : "below resolution",
    containsPaper: containsPaper(interval, paper),
    imagesToResolve: sumAbs / images < Math.abs(paper) ? Infinity : Math.ceil((1.96 ** 2 * variance) / (paper * paper)),
  };
}
