import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { UsageError, parse, parseNumber } from "./args";
import { killAllKernels } from "../notebook/kernel";
import { type ParamValue, parseParam } from "../notebook/params";
import { formatSummary, runNotebooks } from "../notebook/runner";
import { PROFILES, type ProfileName, parseProfile } from "../profiles";

const HELP = `usage: alexnet notebooks [PATHS...] [options]

Runs notebooks headless on the tslab kernel (no Python needed) and writes
executed copies. PATHS are .ipynb files or folders (default: notebooks/).

options:
  --profile smoke|laptop|paper  set the notebooks' \`profile\` parameter
  --param NAME=VALUE            set another parameter (repeatable); VALUE is
                                read as JSON when it can be, else as text
  --out DIR                     where executed notebooks go (default runs/notebooks)
  --jobs N                      notebooks run at once, one kernel each (default 1)
  --timeout S                   per-cell limit in seconds, 0 for none
                                (default: smoke 300, laptop 3600, paper none)
  --allow-errors                keep running cells after a failing cell

Exits 0 when every notebook ran clean; otherwise 1, naming notebook and cell.`;

export const DEFAULT_TIMEOUT_S: Record<ProfileName, number> = { smoke: 300, laptop: 3600, paper: 0 };

/** Expands folders to the notebooks inside them, in name order. */
export function findNotebooks(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths.length ? paths : ["notebooks"]) {
    if (!existsSync(p)) throw new UsageError(`${p}: no such file or folder`);
    if (statSync(p).isDirectory()) {
      const found = readdirSync(p)
        .filter((f) => f.endsWith(".ipynb"))
        .sort()
        .map((f) => path.join(p, f));
      if (found.length === 0) throw new UsageError(`${p}: no .ipynb notebooks in this folder`);
      files.push(...found);
    } else if (p.endsWith(".ipynb")) {
      files.push(p);
    } else {
      throw new UsageError(`${p}: not a notebook (expected a .ipynb file or a folder of them)`);
    }
  }
  return files;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      profile: { type: "string" },
      param: { type: "string", multiple: true },
      out: { type: "string" },
      jobs: { type: "string" },
      timeout: { type: "string" },
      "allow-errors": { type: "boolean" },
    },
    HELP,
  );
  const params: Record<string, ParamValue> = {};
  let profile: ProfileName | undefined;
  if (values.profile !== undefined) {
    try {
      profile = parseProfile(values.profile);
    } catch {
      throw new UsageError(`--profile ${values.profile}: use one of ${PROFILES.join(", ")}`);
    }
    params.profile = profile;
  }
  for (const p of values.param ?? []) {
    const [k, v] = parseParam(p);
    params[k] = v;
  }
  const files = findNotebooks(positionals);
  const timeout = parseNumber("timeout", values.timeout, { min: 0 }) ?? DEFAULT_TIMEOUT_S[profile ?? "smoke"];
  const jobs = parseNumber("jobs", values.jobs, { min: 1, integer: true }) ?? 1;
  const out = values.out ?? path.join("runs", "notebooks");

  // Ctrl-C or a CI cancel: stop the kernels, write what ran so far, then exit; a second signal exits at once.
  const abort = new AbortController();
  let exitCode = 0;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      const code = 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig];
      if (abort.signal.aborted) {
        killAllKernels();
        process.exit(code);
      }
      console.error(`\nalexnet notebooks: ${sig} received, stopping kernels and writing what ran so far`);
      exitCode = code;
      abort.abort();
    });
  }
  console.log(
    `running ${files.length} notebook(s)${profile ? ` in the ${profile} profile` : ""}, ${jobs} at a time; executed copies go to ${out}/`,
  );
  const results = await runNotebooks(files, {
    out,
    params,
    timeout,
    jobs,
    allowErrors: values["allow-errors"] ?? false,
    log: (line) => console.log(line),
    signal: abort.signal,
  });
  console.log("\n" + formatSummary(results));
  if (exitCode) return exitCode;
  return results.every((r) => r?.status === "ok") ? 0 : 1;
}
