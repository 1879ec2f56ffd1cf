import { writeFileSync } from "node:fs";
import { projectRoot } from "../data/embedded";
import path from "node:path";
import { UsageError, parse, parseNumber } from "./args";
import { formatEngineReport, selectEngine } from "../engine/select";
import { CLAIMS_BUDGET, reproduce } from "../claims/harness";
import { PAPER_CLAIMS, claimById } from "../claims/paper-claims";
import { writeClaimsResult } from "../claims/results";
import { claimsTable } from "../claims/table";
import { PROFILES, parseProfile } from "../profiles";

const HELP = `usage: alexnet reproduce [CLAIM...] [--profile P] [--seeds N] [--data DIR] [--out DIR] [--results NAME] [--json]

Measures the paper's claims: for each, trains a control and a treatment that
differ in one setting, over seeds, on the same data with the same budget, and
reports each configuration's mean and spread, the paired effect with its 95%
interval, and a verdict: reproduced (the paper's sign, zero excluded),
opposite, or below resolution. It first checks that the network learned; a
model at chance shows no effect of anything. Ctrl-C stops after the current
step; run the same command again to carry on (finished runs are kept).

  CLAIM           ${PAPER_CLAIMS.map((c) => c.id).join(", ")} (default: all)
  --profile P     ${PROFILES.join(" | ")} (default smoke): the recipe and each run's budget
                    smoke: ${CLAIMS_BUDGET.smoke.epochs} epoch on a tiny set (checks that it runs)
                    laptop: ${CLAIMS_BUDGET.laptop.epochs} epochs of ${(CLAIMS_BUDGET.laptop.perClass?.train ?? 0) * 10} embedded images a run
                    paper: ${CLAIMS_BUDGET.paper.epochs} epochs of the data you give, on a GPU
  --seeds N       seeds 1..N per configuration (default 3)
  --data DIR      a prepared dataset (alexnet prepare; default: the profile's
                  embedded set); colour claims are skipped on greyscale data
  --out DIR       run folders, finished.json, claims.json and claims.md
                  (default runs/claims-PROFILE-DATA)
  --results NAME  also write bench/results/claims-NAME.json and .md, the course's
                  committed evidence (maintainers: --profile laptop --results embedded);
                  without CLAIMs it replaces the file; with CLAIMs it updates
                  those claims only, if the file was measured the same way
  --workers N     loader threads (0: in-process)
  --json          print the report as JSON on the last line`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      profile: { type: "string" },
      seeds: { type: "string" },
      data: { type: "string" },
      out: { type: "string" },
      results: { type: "string" },
      workers: { type: "string" },
      json: { type: "boolean" },
    },
    HELP,
  );
  for (const id of positionals) {
    try {
      claimById(id);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (values.profile !== undefined && !(PROFILES as readonly string[]).includes(values.profile))
    throw new UsageError(`--profile ${values.profile}: use one of ${PROFILES.join(", ")}`);
  const profile = parseProfile(values.profile ?? "smoke");
  const n = Number(values.seeds ?? "3");
  if (!(Number.isInteger(n) && n >= 1))
    throw new UsageError(`--seeds ${values.seeds}: the number of seeds, a whole number >= 1 (2 or more for an interval)`);
  if (values.results !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(values.results))
    throw new UsageError(`--results ${values.results}: a name of lowercase letters, digits and dashes (e.g. embedded, fashion-mnist)`);
  const dataName = values.data ? path.basename(path.resolve(values.data)) : "embedded";
  const out = path.resolve(values.out ?? path.join("runs", `claims-${profile}-${dataName}`));

  const engine = await selectEngine();
  console.error(formatEngineReport(engine));
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    console.error("\nstopping after this step (Ctrl-C again to quit at once); run the same command to carry on");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  try {
    const quiet = values.json === true;
    const report = await reproduce({
      claims: positionals,
      profile,
      seeds: Array.from({ length: n }, (_, i) => i + 1),
      data: values.data,
      dir: out,
      workers: parseNumber("workers", values.workers, { min: 0, integer: true }),
      signal: controller.signal,
      progress: quiet ? "silent" : process.stderr.isTTY ? "tty" : "lines",
      onRun: (r) =>
        console.error(
          `[${r.index + 1}/${r.total}] ${r.claim}: ${r.configuration}, seed ${r.seed}${r.kept ? " (kept from an earlier run)" : ""}`,
        ),
    });
    const table = claimsTable(report);
    const headingOf = (r: typeof report) =>
      `Claims, ${r.profile} profile, ${r.seeds.length} seeds, ${r.data.train} training and ${r.data.val} validation images (${path.relative(process.cwd(), path.resolve(r.data.dir)) || "."}), ${engine.engine}`;
    const heading = headingOf(report);
    writeFileSync(
      path.join(out, "claims.json"),
      `${JSON.stringify({ engine: { engine: engine.engine, backend: engine.backend, details: engine.details }, ...report }, null, 1)}\n`,
    );
    writeFileSync(path.join(out, "claims.md"), `${heading}\n\n${table}\n`);
    if (values.results !== undefined && report.status === "completed") {
      // The data folder relative to the project (not to where the command ran), so an update from another folder finds the same setup.
      const committed = { ...report, data: { ...report.data, dir: path.relative(projectRoot(), report.data.dir) } };
      const file = writeClaimsResult(
        values.results,
        committed,
        { engine: engine.engine, backend: engine.backend, details: engine.details },
        headingOf,
        { partial: positionals.length > 0 },
      );
      console.error(
        `wrote ${path.relative(process.cwd(), file)} and its .md${positionals.length ? ` (${positionals.join(", ")} updated, the other claims kept)` : ""}`,
      );
    }
    console.log(
      `${heading}\n\n${table}\n\n${report.status === "completed" ? `written to ${out}` : `stopped; run the same command to carry on (finished runs are in ${out})`}`,
    );
    if (values.json) console.log(JSON.stringify(report));
    return report.status === "completed" ? 0 : 130;
  } finally {
    process.off("SIGINT", onSigint);
  }
}
