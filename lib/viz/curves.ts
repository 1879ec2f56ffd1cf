// Learning curves of runs that differ in their epochs (another dataset size,
// another number of epochs), set on one axis: images seen, so that the curves
// compare the same amount of training. And the live chart of the notebooks'
// comparisons (ReLU against tanh, pooling, dropout), drawn as each epoch ends.
import type { EpochLog } from "../train/fit";
import { type Figure, LivePlot } from "./plot";

export interface CurveSeries {
  name: string;
  /** One entry per finished epoch, in order, each holding the metric by name (e.g. the trainer's EpochMetrics). */
  history: readonly { epoch: number }[];
  /** Training images per epoch of this run. */
  imagesPerEpoch: number;
}

/** Lines of `metric` (e.g. "valTop1Error") against thousands of training images seen, one per series. */
export function imagesSeenFigure(series: CurveSeries[], metric: string, options: { title: string; yTitle: string; range?: [number, number]; chance?: number }): Figure {
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
  if (options.chance !== undefined) data.push({ type: "scatter", mode: "lines", name: "chance", x: [0, right], y: [options.chance, options.chance] });
  return { data, layout: { title: options.title, xaxis: { title: "training images seen (thousands)" }, yaxis: { title: options.yTitle, ...(options.range ? { range: options.range } : {}) } } };
}

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
export function liveCurves(options: LiveCurvesOptions): { onEpoch: (name: string, log: EpochLog) => void; flushed: () => Promise<void>; figure: () => Figure } {
  const live = new LivePlot(options.log);
  const curves = new Map<string, { x: number[]; train: number[]; val: number[] }>((options.names ?? []).map((n) => [n, { x: [], train: [], val: [] }]));
  const figure = (): Figure => {
    const data: Figure["data"] = [...curves].flatMap(([n, c]) =>
      options.val
        ? [{ x: c.x, y: c.train, name: `${n} train` }, { x: c.x, y: c.val, name: `${n} val`, mode: "lines+markers" as const }]
        : [{ x: c.x, y: c.train, name: n, mode: "lines+markers" as const }],
    );
    const t = options.target;
    if (t) data.push({ x: [1, t.epochs], y: [t.y, t.y], name: t.name, mode: "lines" });
    return { data, layout: { title: options.title, xaxis: { title: "epoch", integer: true }, yaxis: { title: options.yTitle ?? "error", range: [0, 1] } } };
  };
  const pct = (e: number | undefined) => `${(100 * (e ?? NaN)).toFixed(1)}%`;
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
