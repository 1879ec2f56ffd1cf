// What a training run shows while it runs, driven by the trainer's hooks
// (lib/train/loop.ts): a progress bar, one line per epoch on a terminal or in a
// log, and in a notebook two live charts (errors, loss) with only the events
// (start, resume, a learning-rate change, a stop) printed.
import type { StartInfo, StepInfo, StopInfo, TrainHooks, TrainStatus } from "../train/loop";
import type { EpochMetrics } from "../run/run";
import { comparisonFigures } from "./curves";
import { inKernel } from "./display";
import { pct } from "./format";
import { type Figure, LivePlot } from "./plot";
import { Progress, type ProgressMode } from "./progress";

export type { ProgressMode };

export interface ReporterOptions {
  /** Default: "notebook" in a tslab kernel, "tty" on a terminal, else "lines". */
  progress?: ProgressMode;
  /** Where the bar and epoch lines go. Default stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** One line per epoch for terminals and logs. */
export function formatEpoch(m: EpochMetrics, epochs: number): string {
  return `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(3)}, top-1 ${pct(m.trainTop1Error)} · val loss ${m.valLoss.toFixed(3)}, top-1 ${pct(m.valTop1Error)}, top-5 ${pct(m.valTop5Error)} · lr ${m.lr} · ${m.imagesPerSecond.toFixed(1)} img/s · ${m.seconds.toFixed(1)} s`;
}

/** The live charts: the error curves (top-1 train and val, top-5 val, chance) and the training loss, per epoch. */
export function curvesFigures(history: EpochMetrics[], chance?: number): { errors: Figure; loss: Figure } {
  // One run with every curve: a comparison of one.
  return comparisonFigures([{ name: "run", history }], {
    errors: ["trainTop1Error", "valTop1Error", "valTop5Error"],
    loss: ["trainLoss", "valLoss"],
    chance,
  });
}

/** The hooks that show a run: train() puts them before the caller's own. */
export function trainingReporter(options: ReporterOptions = {}): TrainHooks {
  const mode: ProgressMode =
    options.progress ?? (inKernel() ? "notebook" : (options.stream?.isTTY ?? process.stderr.isTTY) ? "tty" : "lines");
  const stream = options.stream ?? process.stderr;
  // Epoch lines go to the terminal or log; in a notebook the live charts carry them, and only events are printed.
  const say = (line: string, event = false): void => {
    if (mode === "tty") stream.write(`\r\x1b[K${line}\n`);
    else if (mode === "lines") stream.write(`${line}\n`);
    else if (mode === "notebook" && event) console.log(line);
  };
  let progress: Progress | undefined;
  let plots: { errors: LivePlot; loss: LivePlot } | undefined;
  let epochs = 0;
  let classes = 0;
  return {
    onStart: (s: StartInfo) => {
      ({ epochs } = s.config);
      ({ classes } = s);
      plots = mode === "notebook" ? { errors: new LivePlot(), loss: new LivePlot() } : undefined;
      const remainingImages = Math.max(0, (epochs - s.startEpoch) * s.stepsPerEpoch - s.startStep) * s.config.batchSize;
      progress = new Progress("train", remainingImages, { unit: "img", mode, stream });
      const c = s.config;
      if (s.resumedFrom)
        say(`resuming from ${s.resumedFrom} (epoch ${s.startEpoch + 1}, step ${s.startStep + 1} of ${s.stepsPerEpoch}, lr ${s.lr})`, true);
      say(
        `training ${c.model} (${c.crop}x${c.crop}, ${classes} classes${s.note}) on ${c.data}: ${s.trainImages} train / ${s.valImages} val images, batch ${c.batchSize}, ${epochs} epochs, engine ${s.engine}`,
        true,
      );
    },
    onStep: (s: StepInfo) => progress?.tick(s.images, `epoch ${s.epoch + 1}/${epochs} · loss ${s.loss.toFixed(3)}`),
    onEpoch: async (m: EpochMetrics, history: EpochMetrics[]) => {
      // The schedule's reason is news only when it changed the rate.
      const changed = m.nextLr !== m.lr;
      say(formatEpoch(m, epochs) + (changed ? ` · ${m.schedule}` : ""), changed);
      if (plots) {
        const figures = curvesFigures(history, 1 - 1 / classes);
        await plots.errors.update(figures.errors, formatEpoch(m, epochs));
        await plots.loss.update(figures.loss, `train loss ${m.trainLoss.toFixed(3)}, val loss ${m.valLoss.toFixed(3)}`);
      }
    },
    onStop: (s: StopInfo) => {
      if (s.step === undefined) say(`stopped after epoch ${s.epoch + 1}; saved ${s.checkpoint}; continue with --resume`, true);
      else
        say(
          `stopped at epoch ${s.epoch + 1}, step ${s.step + 1} of ${s.stepsPerEpoch}; saved ${s.checkpoint}; continue with --resume`,
          true,
        );
    },
    onEnd: (status: TrainStatus) => progress?.finish(status === "interrupted" ? "interrupted" : undefined),
  };
}
