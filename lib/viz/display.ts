// Rich output for notebooks, with a plain-text fallback for the CLI and tests.
// In a tslab kernel, outputs go through tslab's display channel; elsewhere the
// text/plain part is printed, so the same lib code serves both.

type WriteDisplayData = (
  data: { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: { display_id?: string } },
  update: boolean,
) => void;

/** tslab's live display writer, when this code runs inside a tslab kernel. */
function kernelWriter(): WriteDisplayData | undefined {
  try {
    // The same module instance the kernel uses (it is loaded from this project's node_modules).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: WriteDisplayData | null };
    return jupyter.lastWriteDisplayData ?? undefined;
  } catch {
    return undefined;
  }
}

export function inKernel(): boolean {
  return kernelWriter() !== undefined;
}

/** A MIME bundle: every representation of one output, e.g. text/html plus text/plain. */
export type MimeBundle = Record<string, string | object>;

let nextId = 0;

/** An output that can be replaced in place (progress, live curves). */
export class LiveDisplay {
  private shown = false;
  private readonly id = `alexnet-${process.pid}-${++nextId}`;
  constructor(private readonly log: (text: string) => void = (t) => console.log(t)) {}

  /** `metadata` is the output's (nbformat): e.g. { "image/png": { width, height } } for the size an image is shown at. */
  update(bundle: MimeBundle, metadata: Record<string, unknown> = {}): void {
    const write = kernelWriter();
    if (write) {
      write({ data: bundle, metadata, transient: { display_id: this.id } }, this.shown);
    } else if (typeof bundle["text/plain"] === "string") {
      this.log(bundle["text/plain"]);
    }
    this.shown = true;
  }
}

/** Shows a MIME bundle once. Always include text/plain: it is what the CLI and plain viewers print. */
export function show(bundle: MimeBundle, metadata: Record<string, unknown> = {}): void {
  new LiveDisplay().update(bundle, metadata);
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export type Cell = string | number | boolean | null | undefined;

/** Renders rows as an aligned text table; numbers, and the headers of all-number columns, are right-aligned. */
export function textTable(columns: string[], rows: Cell[][]): string {
  const str = (c: Cell) => (c === null || c === undefined ? "" : String(c));
  const widths = columns.map((h, i) => Math.max(h.length, ...rows.map((r) => str(r[i]).length)));
  const numeric = columns.map(
    (_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined),
  );
  const right = (c: Cell, i: number) => typeof c === "number" || (typeof c === "string" && numeric[i]);
  const fmt = (cells: Cell[]) =>
    cells
      .map((c, i) => (right(c, i) ? str(c).padStart(widths[i]) : str(c).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(columns), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

export function htmlTable(columns: string[], rows: Cell[][], caption?: string): string {
  // align, not style: an untrusted notebook keeps attributes but drops inline styles.
  const td = (c: Cell, tag: string) =>
    `<${tag} align="${typeof c === "number" ? "right" : "left"}">${escapeHtml(c === null || c === undefined ? "" : String(c))}</${tag}>`;
  return [
    "<table>",
    caption ? `<caption>${escapeHtml(caption)}</caption>` : "",
    `<thead><tr>${columns.map((c) => td(c, "th")).join("")}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => td(c, "td")).join("")}</tr>`).join("")}</tbody>`,
    "</table>",
  ].join("");
}

/** Shows a table: HTML in a notebook, aligned text elsewhere. */
export function showTable(columns: string[], rows: Cell[][], caption?: string): void {
  const text = textTable(columns, rows);
  show({ "text/html": htmlTable(columns, rows, caption), "text/plain": caption ? `${caption}\n${text}` : text });
}

/** Shows a PNG image (a Buffer), with a text description for plain viewers. */
export function showPng(png: Buffer, description: string): void {
  show({ "image/png": png.toString("base64"), "text/plain": description });
}
