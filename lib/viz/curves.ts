// Learning curves of runs that differ in their epochs (another dataset size,
// another number of epochs), set on one axis: images seen, so that the curves
// compare the same amount of training.
import type { Figure } from "./plot";

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
