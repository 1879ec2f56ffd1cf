// Learning curves of runs that differ in their epochs (another dataset size,
// another number of epochs), set on one axis: images seen, so that the curves
// compare the same amount of training. And the live chart of the notebooks'
// comparisons (ReLU against tanh, pooling, dropout), drawn as each epoch ends.
import type { EpochLog } from "../train/fit";
import { pct } from "./format";
import { type Figure, LivePlot } from "./plot";

export interface CurveSeries {
  name: string;
  /** One entry per finished epoch, in order, each holding the metric by name (e.g. the trainer's EpochMetrics). */
  history: readonly { epoch: number }[];
  /** Training images per epoch of this run. */
  imagesPerEpoch: number;
}

/** Lines of `metric` (e.g. "valTop1Error") against thousands of training images seen, one per series. */
export function imagesSeenFigure(
  series: CurveSeries[],
  metric: string,
  options: { title: string; yTitle: string; range?: [number, number]; chance?: number },
): Figure {
  const data: Figure["data"] = series.map((s) => ({
    type: "scatter",
    mode: "lines+markers",
    name: s.name,
    x: s.history.map((h) => (h.epoch * s.imagesPerEpoch) / 1000),
    y: s.history.map((h) => {
      const v = (h as unknown as Record<string, unknown>)[metric];
      if (typeof v !== "number") throw new Error(`imagesSeenFigure: epoch ${h.epoch} of "${s.name}" has no number "${metric}".`);
      return v;
    }),
  }));
  const right = Math.max(0, ...data.map((t) => Math.max(0, ...(t.x as number[]))));
  if (options.chance !== undefined)
    data.push({ type: "scatter", mode: "lines", name: "chance", x: [0, right], y: [options.chance, options.chance] });
  return {
    data,
    layout: {
      title: options.title,
      xaxis: { title: "training images seen (thousands)" },
      yaxis: { title: options.yTitle, ...(options.range ? { range: options.range } : {}) },
    },
  };
}

// ------------------------------------------------ runs compared epoch by epoch

export type ErrorCurve = "trainTop1Error" | "valTop1Error" | "valTop5Error";
export type LossCurve = "trainLoss" | "valLoss";

/** How each curve is named: short in a legend, long as a figure's title. */
export const CURVE_LABELS: Record<ErrorCurve | LossCurve, { short: string; long: string }> = {
  trainTop1Error: { short: "train top-1", long: "training top-1 error" },
  valTop1Error: { short: "val top-1", long: "validation top-1 error" },
  valTop5Error: { short: "val top-5", long: "validation top-5 error" },
  trainLoss: { short: "train loss", long: "training loss" },
  valLoss: { short: "val loss", long: "validation loss" },
};

export interface RunCurves {
  name: string;
  /** One entry per finished epoch, in order (e.g. the trainer's EpochMetrics). */
  history: readonly ({ epoch: number } & Partial<Record<ErrorCurve | LossCurve, number>>)[];
}

export interface ComparisonOptions {
  /** Error curves drawn for every run, on one axis from 0 to 1; default: validation top-1. */
  errors?: ErrorCurve[];
  /** Loss curves drawn for every run; default: training loss. */
  loss?: LossCurve[];
  /** The top-1 error of guessing (1 - 1/classes): a flat line on the error figure. */
  chance?: number;
}

/**
 * Two figures, errors and loss against epochs, for runs of the same length
 * compared epoch by epoch (fine-tuned against from scratch, one setting
 * changed). A line per run and curve: named by the run when there is one
 * curve, by the curve when there is one run (one run with every curve is the
 * trainer's live plot, curvesFigures), by both otherwise. For runs whose epochs
 * differ in size, imagesSeenFigure puts them on one axis of images seen.
 */
export function comparisonFigures(runs: readonly RunCurves[], options: ComparisonOptions = {}): { errors: Figure; loss: Figure } {
  if (runs.length === 0) throw new Error("comparisonFigures: no runs to compare.");
  const errors = options.errors ?? ["valTop1Error"];
  const loss = options.loss ?? ["trainLoss"];
  const traces = (metrics: readonly (ErrorCurve | LossCurve)[]): Figure["data"] =>
    metrics.length === 0
      ? []
      : runs.flatMap((run) =>
          metrics.map((metric) => ({
            type: "scatter" as const,
            mode: "lines+markers" as const,
            name:
              metrics.length === 1
                ? run.name
                : runs.length === 1
                  ? CURVE_LABELS[metric].short
                  : `${run.name}, ${CURVE_LABELS[metric].short}`,
            x: run.history.map((h) => h.epoch),
            y: run.history.map((h) => {
              const v = h[metric];
              if (typeof v !== "number") throw new Error(`comparisonFigures: epoch ${h.epoch} of "${run.name}" has no number "${metric}".`);
              return v;
            }),
          })),
        );
  const title = (metrics: readonly (ErrorCurve | LossCurve)[], several: string) =>
    metrics.length === 1 ? CURVE_LABELS[metrics[0]].long : several;
  const errorFigure: Figure = {
    data: traces(errors),
    layout: { title: title(errors, "error rates"), xaxis: { title: "epoch", integer: true }, yaxis: { title: "error", range: [0, 1] } },
  };
  const epochs = runs.flatMap((r) => r.history.map((h) => h.epoch));
  if (options.chance !== undefined && epochs.length > 0) {
    // After one epoch the line still needs a length: it spans the axis, which then runs one epoch on.
    const first = Math.min(...epochs);
    errorFigure.data.push({
      type: "scatter",
      mode: "lines",
      name: "chance (top-1)",
      x: [first, Math.max(...epochs, first + 1)],
      y: [options.chance, options.chance],
    });
  }
  const lossFigure: Figure = {
    data: traces(loss),
    layout: { title: title(loss, "loss (cross-entropy)"), xaxis: { title: "epoch", integer: true }, yaxis: { title: "loss" } },
  };
  return { errors: errorFigure, loss: lossFigure };
}

// ------------------------------------------------ a comparison, live

export interface LiveCurvesOptions {
  title: string;
  /** Default "error" ("training error" reads better when there is no validation curve). */
  yTitle?: string;
  /** Each run's validation error too, besides its training error. */
  val?: boolean;
  /** Runs to show (in this order) before their first epoch; others are added as they start. */
  names?: string[];
  /** A horizontal line, e.g. the target error a comparison trains to, from epoch 1 to `epochs`. */
  target?: { y: number; name: string; epochs: number };
  /** Where the chart's text goes outside a notebook (LivePlot's default: console.log). */
  log?: (text: string) => void;
}

/**
 * The live error chart of a comparison (lib/train/experiments.ts): pass
 * `onEpoch` as compareNetworks' onEpoch, and await `flushed()` at the end of the
 * cell so that the last chart is drawn before the cell ends.
 */
export function liveCurves(options: LiveCurvesOptions): {
  onEpoch: (name: string, log: EpochLog) => void;
  flushed: () => Promise<void>;
  figure: () => Figure;
} {
  const live = new LivePlot(options.log);
  const curves = new Map<string, { x: number[]; train: number[]; val: number[] }>(
    (options.names ?? []).map((n) => [n, { x: [], train: [], val: [] }]),
  );
  const figure = (): Figure => {
    const data: Figure["data"] = [...curves].flatMap(([n, c]) =>
      options.val
        ? [
            { x: c.x, y: c.train, name: `${n} train` },
            { x: c.x, y: c.val, name: `${n} val`, mode: "lines+markers" as const },
          ]
        : [{ x: c.x, y: c.train, name: n, mode: "lines+markers" as const }],
    );
    const t = options.target;
    if (t) data.push({ x: [1, t.epochs], y: [t.y, t.y], name: t.name, mode: "lines" });
    return {
      data,
      layout: {
        title: options.title,
        xaxis: { title: "epoch", integer: true },
        yaxis: { title: options.yTitle ?? "error", range: [0, 1] },
      },
    };
  };
  const onEpoch = (name: string, log: EpochLog): void => {
    let c = curves.get(name);
    if (!c) curves.set(name, (c = { x: [], train: [], val: [] }));
    c.x.push(log.epoch);
    c.train.push(log.trainError);
    c.val.push(log.valError ?? NaN);
    const said = options.val ? `train ${pct(log.trainError)}, val ${pct(log.valError)}` : `training error ${pct(log.trainError)}`;
    // Not awaited: training goes on while the chart is drawn; flushed() waits for the last one.
    void live.update(figure(), `${name} epoch ${log.epoch}: ${said}`);
  };
  return { onEpoch, flushed: () => live.flushed(), figure };
}
