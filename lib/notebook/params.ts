// Notebook parameters, the papermill way: the cell tagged `parameters` declares
// defaults with `let`; the runner adds a cell tagged `injected-parameters`
// right after it that assigns the overrides.
import { type CodeCell, type Notebook, joinSource, newCellId } from "./nbformat";

export type ParamValue = string | number | boolean | null;

export class ParameterError extends Error {
  override name = "ParameterError";
}

/** Parses `k=v`: v is read as JSON when it is a number, boolean, null or quoted string, else as plain text. */
export function parseParam(arg: string): [string, ParamValue] {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new ParameterError(`--param ${arg}: expected name=value, e.g. --param epochs=3`);
  const name = arg.slice(0, eq).trim();
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new ParameterError(`--param ${arg}: '${name}' is not a variable name`);
  const text = arg.slice(eq + 1);
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) return [name, v as ParamValue];
  } catch {
    // not JSON: plain text
  }
  return [name, text];
}

export function findParametersCell(nb: Notebook): number {
  return nb.cells.findIndex((c) => c.cell_type === "code" && (c.metadata.tags ?? []).includes("parameters"));
}

/** Names declared with let/var/const at the start of a line in the parameters cell, and how. */
export function declaredParameters(source: string): Map<string, "let" | "var" | "const"> {
  const out = new Map<string, "let" | "var" | "const">();
  for (const m of source.matchAll(/^\s*(let|var|const)\s+([A-Za-z_$][\w$]*)/gm)) out.set(m[2], m[1] as "let" | "var" | "const");
  return out;
}

/**
 * Returns a copy of the notebook with an injected-parameters cell after the
 * parameters cell, or the notebook unchanged when there is nothing to inject.
 * Every name must be declared with `let` in the parameters cell, so a typo
 * is caught before a kernel starts.
 */
export function injectParameters(nb: Notebook, params: Record<string, ParamValue>, file = "<notebook>"): Notebook {
  const names = Object.keys(params);
  if (names.length === 0) return nb;
  const at = findParametersCell(nb);
  if (at < 0) throw new ParameterError(`${file} has no cell tagged 'parameters', so it takes no parameters (${names.join(", ")} given)`);
  const declared = declaredParameters(joinSource(nb.cells[at].source));
  for (const name of names) {
    const how = declared.get(name);
    if (!how) {
      const known = [...declared.keys()].join(", ") || "none";
      throw new ParameterError(`${file}: parameter '${name}' is not declared in its parameters cell (declared: ${known})`);
    }
    if (how === "const")
      throw new ParameterError(`${file}: parameter '${name}' is declared with const; declare it with let so it can be overridden`);
  }
  const lines = [
    "// Injected by `alexnet notebooks`: these values override the defaults above.",
    ...names.map((n) => `${n} = ${JSON.stringify(params[n])};`),
    // Not the shorthand `{ a, b }`: tslab does not resolve shorthand properties to earlier cells' variables.
    `console.log("parameters:", JSON.stringify({ ${names.map((n) => `${n}: ${n}`).join(", ")} }));`,
  ];
  const cell: CodeCell = {
    cell_type: "code",
    id: newCellId(),
    metadata: { tags: ["injected-parameters"] },
    source: lines.join("\n"),
    outputs: [],
    execution_count: null,
  };
  return { ...nb, cells: [...nb.cells.slice(0, at + 1), cell, ...nb.cells.slice(at + 1)] };
}
