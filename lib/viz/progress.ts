// Progress for long work: a bar that redraws in place in a terminal, a line
// every tenth of the way in logs, and an HTML bar that updates in place in a
// notebook.
import { LiveDisplay, escapeHtml, inKernel } from "./display";

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}

/** How progress is shown: a redrawn bar, plain lines (logs, CI), a notebook display, or nothing. */
export type ProgressMode = "tty" | "lines" | "notebook" | "silent";

export interface ProgressOptions {
  /** What one unit is, for the rate: "img", "step". */
  unit?: string;
  /** Where terminal output goes (default stderr, so --json stdout stays clean). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force a mode instead of detecting it. */
  mode?: ProgressMode;
  /** Clock, injectable for tests (milliseconds). */
  now?: () => number;
}

export class Progress {
  private done = 0;
  private note = "";
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastTenth = -1;
  private readonly mode: ProgressMode;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly display?: LiveDisplay;
  private readonly now: () => number;
  private finished = false;

  constructor(
    readonly label: string,
    readonly total: number,
    private readonly options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.mode = options.mode ?? (inKernel() ? "notebook" : this.stream.isTTY ? "tty" : "lines");
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    if (this.mode === "notebook") this.display = new LiveDisplay();
  }

  /** Units per second so far. */
  get rate(): number {
    const secs = (this.now() - this.started) / 1000;
    return secs > 0 ? this.done / secs : 0;
  }

  get elapsedSeconds(): number {
    return (this.now() - this.started) / 1000;
  }

  /** One line: label, bar, percentage, count, rate, time left. */
  text(width = 24): string {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(frac * width);
    const rate = this.rate;
    const left = rate > 0 ? (this.total - this.done) / rate : NaN;
    const unit = this.options.unit ?? "it";
    const tail = this.finished ? `in ${formatDuration(this.elapsedSeconds)}` : `ETA ${formatDuration(left)}`;
    return `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.floor(frac * 100)}% ${this.done}/${this.total} · ${rate.toFixed(rate < 10 ? 1 : 0)} ${unit}/s · ${tail}${this.note ? ` · ${this.note}` : ""}`;
  }

  tick(n = 1, note?: string): void {
    this.done += n;
    if (note !== undefined) this.note = note;
    this.draw(false);
  }

  finish(note?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (note !== undefined) this.note = note;
    this.draw(true);
  }

  private draw(final: boolean): void {
    const t = this.now();
    switch (this.mode) {
      case "silent":
        return;
      case "tty":
        if (!final && t - this.lastDraw < 100) return;
        this.stream.write(`\r${this.text()}\x1b[K${final ? "\n" : ""}`);
        break;
      case "lines": {
        const tenth = this.total > 0 ? Math.floor((10 * this.done) / this.total) : 10;
        // The 100% line is left to finish(), which adds the elapsed time.
        if (!final && (tenth === this.lastTenth || tenth >= 10)) return;
        this.lastTenth = tenth;
        this.stream.write(`${this.text()}\n`);
        break;
      }
      case "notebook": {
        if (!final && t - this.lastDraw < 250) return;
        const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
        const line = this.text();
        this.display!.update({
          "text/html": `<div><progress value="${pct.toFixed(1)}" max="100"></progress> <code>${escapeHtml(line.replace(/\[[#.]+\] /, ""))}</code></div>`,
          "text/plain": line,
        });
        break;
      }
    }
    this.lastDraw = t;
  }
}
