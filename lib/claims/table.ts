// The claims report as a table and as sentences: one row per claim and figure
// (errors in points, ratios as x), for the CLI's claims.md, the README's
// generated blocks and the notebooks' committed tables.
import type { MeanSd } from "../eval/stats";
import { PAPER_CLAIMS } from "./paper-claims";
import type { ClaimsReport } from "./reading";
import { points as pct, signedPoints as signed } from "../viz/format";

/** What the overfittingGap rows measure, and the bias they carry. */
export const OVERFITTING_NOTE =
  "overfittingGap is validation top-1 minus training top-1, both of the last epoch's model in inference mode on the centre patch (no dropout, no augmentation), so a treatment that makes its training batches harder does not shrink its gap by that alone.";

// Metrics compared as treatment / control on the log scale, shown as x.
const RATIO_METRICS: readonly string[] = ["stepsToTarget", "epochsToTarget"];
const ratio = (x: number) => (Number.isFinite(x) ? `×${x.toFixed(2)}` : "-");

export const CLAIMS_COLUMNS = [
  "claim",
  "metric",
  "paper",
  "control",
  "treatment",
  "effect (95% interval)",
  "verdict",
  "holds the paper's size",
  "to resolve it",
] as const;

/** One row per claim and figure (for showTable or markdown): errors in points, ratios as ×. `ids` keeps only those claims. */
export function claimsRows(report: ClaimsReport, ids?: readonly string[]): string[][] {
  const rows: string[][] = [];
  for (const c of report.claims.filter((x) => !ids || ids.includes(x.id))) {
    if (c.status === "not applicable" || (c.figures.length === 0 && !c.unmeasured?.length)) {
      rows.push([
        `${c.title} (${c.section})`,
        "-",
        "-",
        "-",
        "-",
        "-",
        `${c.status === "not applicable" ? "not applicable" : "not measured"}: ${c.why ?? ""}`,
        "-",
        "-",
      ]);
      continue;
    }
    const [ctl, trt] = c.configurations;
    const claim = PAPER_CLAIMS.find((x) => x.id === c.id);
    for (const f of c.figures) {
      const e = f.effect;
      const steps = f.metric === "stepsToTarget";
      const sd = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
      const cell = (m: MeanSd | undefined) =>
        m === undefined
          ? "-"
          : steps
            ? `${m.mean.toFixed(0)} ± ${sd(m.sd, 0)} steps`
            : f.metric === "epochsToTarget"
              ? `${m.mean.toFixed(1)} ± ${sd(m.sd, 1)} epochs`
              : `${pct(m.mean)} ± ${pct(m.sd)}`;
      const paper =
        f.paper === undefined ? (f.effect.paper < 0 ? "lower" : "higher") : e.kind === "log-ratio" ? ratio(f.paper) : signed(f.paper);
      const measured =
        e.kind === "log-ratio"
          ? `${ratio(e.ratio!.mean)} (${ratio(e.ratio!.low)} to ${ratio(e.ratio!.high)})`
          : `${signed(e.mean)} (${signed(e.low)} to ${signed(e.high)})`;
      // A model at chance shows no effect of anything: the verdict is not read (the JSON keeps it).
      const notLearned = steps
        ? `not read: ${ctl.name} did not reach the target in every seed`
        : `not read: in some seed neither configuration learned (the gate: val top-1 at most ${pct(c.learned.chance / 2)}%, half of chance, and training error falling; ${ctl.name} learned in ${ctl.learnedSeeds ?? "?"} seeds, ${trt.name} in ${trt.learnedSeeds ?? "?"})`;
      const verdict = (c.learned.ok ? f.verdict : notLearned) + (c.why ? ` (${c.why})` : "");
      // Infinity (no number of seeds or images at this spread) is null once the report has been through JSON.
      const count = (n: number | null | undefined, what: string) =>
        n === undefined
          ? undefined
          : n === null || !Number.isFinite(n)
            ? `beyond ${what === "seeds" ? "1,000 seeds" : "any number of images"}`
            : `${n} ${what}`;
      const resolve = f.toResolve === undefined ? "-" : (count(f.toResolve.seeds, "seeds") ?? count(f.toResolve.images, "images") ?? "-");
      rows.push([
        `${c.title} (${c.section})`,
        f.metric,
        paper,
        `${ctl.name}: ${cell(ctl[f.metric])}`,
        `${trt.name}: ${cell(trt[f.metric])}`,
        measured,
        verdict,
        f.containsPaper === undefined ? "-" : f.containsPaper ? "yes" : "no",
        resolve,
      ]);
    }
    // A figure these runs cannot give is a row that says why, not a row left out.
    for (const u of c.unmeasured ?? []) {
      const f = claim?.figures.find((x) => x.metric === u.metric);
      const paper =
        f?.value === undefined
          ? f?.sign === -1
            ? "lower"
            : "higher"
          : RATIO_METRICS.includes(u.metric)
            ? ratio(f.value)
            : signed(f.value);
      rows.push([`${c.title} (${c.section})`, u.metric, paper, "-", "-", "-", `not measured: ${u.why}`, "-", "-"]);
    }
  }
  return rows;
}

/**
 * One sentence per claim and figure, computed from the report, for a notebook's
 * prose to stand on: the verdict, the measured effect against the paper's, and
 * what would resolve it. Whatever the verdict, the sentence says it.
 */
export function claimSentences(report: ClaimsReport, ids?: readonly string[]): string[] {
  const rows = claimsRows(report, ids);
  return rows.map((r) => {
    const [claim, metric, paper, , , measured, verdict, holds, resolve] = r;
    if (verdict.startsWith("not read") || verdict.startsWith("not applicable") || verdict.startsWith("not measured"))
      return `${claim}, ${metric}: ${verdict}.`;
    const size =
      holds === "yes" ? "; the interval holds the paper's figure" : holds === "no" ? "; the interval does not hold the paper's figure" : "";
    const more =
      !verdict.startsWith("below resolution") || resolve === "-"
        ? ""
        : resolve.startsWith("beyond")
          ? `; an effect of the paper's size is ${resolve} at this spread`
          : `; about ${resolve} would resolve an effect of the paper's size at this spread`;
    return `${claim}, ${metric}: ${verdict}. Measured ${measured} against the paper's ${paper}${size}${more}.`;
  });
}

/** The verdict table in markdown, with a note for each claim measured on other data. */
export function claimsTable(report: ClaimsReport, ids?: readonly string[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rows = [line(CLAIMS_COLUMNS), line(CLAIMS_COLUMNS.map(() => "---")), ...claimsRows(report, ids).map(line)];
  const shown = report.claims.filter((c) => !ids || ids.includes(c.id));
  const notes = shown.filter((c) => c.data).map((c) => `${c.title}: ${c.data}.`);
  if (shown.some((c) => c.figures.some((f) => f.metric === "overfittingGap"))) notes.push(OVERFITTING_NOTE);
  return [...rows, ...(notes.length ? ["", ...notes] : [])].join("\n");
}
