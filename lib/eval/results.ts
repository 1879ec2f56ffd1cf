// The laptop-profile results committed under bench/results/, for notebooks and
// the README to quote instead of retyping figures. Each file is written by a
// script in bench/ and records its date, machine, engine, data and seeds.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { projectRoot } from "../data/embedded";
import { writeFileAtomicSync } from "../files";

export interface CommittedResult<T> {
  file: string;
  /** When the benchmark ran (ISO 8601). */
  date: string;
  machine: Record<string, unknown>;
  result: T;
}

/** What a result records of the machine that measured it. */
export function machineInfo(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model.trim(),
    threads: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

/**
 * Writes `dir`/NAME.json (default bench/results/, or $BENCH_OUT) with the name,
 * date and machine that committedResult checks, and returns its path.
 */
export function writeResult(
  name: string,
  result: Record<string, unknown>,
  dir = process.env.BENCH_OUT ?? path.join(projectRoot(), "bench", "results"),
): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new Error(`writeResult: '${name}' is not a result name (lowercase letters, digits and dashes).`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileAtomicSync(
    file,
    JSON.stringify({ benchmark: name, date: new Date().toISOString(), machine: machineInfo(), ...result }, null, 2) + "\n",
  );
  return file;
}

/** bench/results/<name>.json, or undefined when it is not there; a file that is not a benchmark result is an error naming it. */
export function committedResult<T = Record<string, unknown>>(name: string, root = projectRoot()): CommittedResult<T> | undefined {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new Error(
      `committedResult: '${name}' is not a result name (lowercase letters, digits and dashes, as in bench/results/laptop-profile.json).`,
    );
  const file = path.join(root, "bench", "results", `${name}.json`);
  if (!existsSync(file)) return undefined;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(
      `${file} is not valid JSON (${(err as Error).message}); run its benchmark again (bench/${name}.ts) or restore it with git checkout.`,
    );
  }
  if (typeof parsed.date !== "string" || parsed.benchmark !== name)
    throw new Error(`${file} is not the result of bench/${name}.ts (no "benchmark": "${name}" and "date"); run the benchmark again.`);
  return { file, date: parsed.date, machine: (parsed.machine as Record<string, unknown>) ?? {}, result: parsed as T };
}

/** "measured 2026-12-02 on AMD EPYC (2 threads), wasm (bench/results/x.json)": where a committed figure comes from, for a notebook's caption. */
export function provenance(r: CommittedResult<object>): string {
  const cpu = r.machine.cpu
    ? `${String(r.machine.cpu)}${r.machine.threads ? ` (${String(r.machine.threads)} threads)` : ""}`
    : "an unrecorded machine";
  const engine = (r.result as { engine?: { engine?: string } | string }).engine;
  const name = typeof engine === "string" ? engine : engine?.engine;
  // A claims file updated claim by claim (lib/claims/results.ts) says which were measured again, and when.
  const updates = (r.result as { updates?: { date: string; claims: string[] }[] }).updates ?? [];
  const again = updates.map((u) => `; ${u.claims.join(", ")} measured again ${u.date.slice(0, 10)}`).join("");
  return `measured ${r.date.slice(0, 10)} on ${cpu}${name ? `, ${name}` : ""}${again} (${path.relative(projectRoot(), r.file)})`;
}
