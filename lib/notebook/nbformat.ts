// Reading and writing notebooks in nbformat 4.5 (cells carry ids).
// https://nbformat.readthedocs.io/en/latest/format_description.html
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../files";

export type MultilineString = string | string[];

export interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: MultilineString;
}
export interface DisplayDataOutput {
  output_type: "display_data";
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** Not saved: which display this output belongs to, for update_display_data. */
  transient?: { display_id?: string };
}
export interface ExecuteResultOutput {
  output_type: "execute_result";
  execution_count: number | null;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}
export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

export interface CodeCell {
  cell_type: "code";
  id: string;
  metadata: Record<string, unknown> & { tags?: string[] };
  source: MultilineString;
  outputs: Output[];
  execution_count: number | null;
}
export interface TextCell {
  cell_type: "markdown" | "raw";
  id: string;
  metadata: Record<string, unknown>;
  source: MultilineString;
  attachments?: Record<string, unknown>;
}
export type Cell = CodeCell | TextCell;

export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

export const TSLAB_METADATA = {
  kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" },
  language_info: {
    name: "typescript",
    file_extension: ".ts",
    mimetype: "text/typescript",
    version: "3.7.2",
    codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
  },
};

export function joinSource(source: MultilineString): string {
  return Array.isArray(source) ? source.join("") : source;
}

/** Splits text the way Jupyter stores it: one string per line, each keeping its newline. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

export function newCellId(): string {
  return randomBytes(4).toString("hex");
}

export class NotebookFormatError extends Error {
  override name = "NotebookFormatError";
}

/** Parses and checks a notebook; gives cells ids when an older minor version lacks them. */
export function parseNotebook(text: string, file = "<notebook>"): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new NotebookFormatError(
      `${file} is not valid JSON (${(err as Error).message}); open it in JupyterLab and save it again, or restore it from git`,
    );
  }
  const nb = raw as Partial<Notebook>;
  if (typeof nb !== "object" || nb === null || nb.nbformat !== 4 || !Array.isArray(nb.cells)) {
    throw new NotebookFormatError(`${file} is not an nbformat 4 notebook (it needs "nbformat": 4 and a "cells" list)`);
  }
  const seen = new Set<string>();
  nb.cells.forEach((cell, i) => {
    if (!cell || !["code", "markdown", "raw"].includes(cell.cell_type)) {
      throw new NotebookFormatError(`${file}: cell ${i + 1} has no valid cell_type`);
    }
    cell.metadata ??= {};
    cell.source ??= "";
    if (typeof cell.id !== "string" || !/^[a-zA-Z0-9-_]{1,64}$/.test(cell.id) || seen.has(cell.id)) cell.id = newCellId();
    seen.add(cell.id);
    if (cell.cell_type === "code") {
      cell.outputs ??= [];
      cell.execution_count ??= null;
    }
  });
  nb.metadata ??= {};
  nb.nbformat_minor = Math.max(nb.nbformat_minor ?? 0, 5);
  return nb as Notebook;
}

export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NotebookFormatError(
      code === "ENOENT" ? `${file}: no such notebook; check the path (notebooks live in notebooks/)` : `${file}: cannot be read (${code})`,
    );
  }
  return parseNotebook(text, file);
}

/** Drops runtime-only fields and stores multi-line strings as line lists, as Jupyter does. */
export function serialiseNotebook(nb: Notebook): string {
  const cells = nb.cells.map((cell) => {
    const out: Record<string, unknown> = { ...cell, source: splitLines(joinSource(cell.source)) };
    if (cell.cell_type === "code") {
      out.outputs = cell.outputs.map((o) => {
        if (o.output_type === "stream") return { ...o, text: splitLines(joinSource(o.text)) };
        if (o.output_type === "display_data") return { output_type: o.output_type, data: o.data, metadata: o.metadata };
        return o;
      });
    }
    return out;
  });
  return JSON.stringify({ ...nb, cells }, null, 1) + "\n";
}

/** Writes via a temporary file and rename, so an interrupted run never leaves half a notebook. */
export function writeNotebook(file: string, nb: Notebook): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, serialiseNotebook(nb));
}

export function codeCells(nb: Notebook): CodeCell[] {
  return nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
}
