// Figures as files: what a notebook shows, the CLI writes, so a run without
// a notebook still leaves its pictures behind.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";

/** Writes a figure (PNG bytes, or SVG/HTML text), creating its folder; returns the absolute path. */
export function writeFigure(file: string, data: Buffer | string): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** The file's extension in lower case without the dot ("png", "html", ...), or "" when it has none. */
export function figureFormat(file: string): string {
  return extname(file).slice(1).toLowerCase();
}
