// The network drawn from a built model, in the manner of the paper's Figure 2:
// one column per layer with weights, split into two towers when the model has
// grouped convolutions, with the links that say which tower sees which.
import type * as tf from "@tensorflow/tfjs";
import { escapeHtml } from "./display";

export interface Stage {
  name: string;
  kind: "conv" | "dense";
  /** Output units of the whole layer, e.g. [55, 55, 96] or [4096]. */
  shape: number[];
  /** 1 for a full connection to the previous stage; 2 when each tower sees only its own half. */
  groups: number;
  kernel?: number;
  stride?: number;
}

/** The layers with weights, in order, with what the drawing needs to know about them. */
export function modelStages(model: tf.LayersModel): Stage[] {
  const stages: Stage[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== "Conv2D" && cls !== "GroupedConv2D" && cls !== "Dense") continue;
    const config = layer.getConfig() as { kernelSize?: number | number[]; strides?: number | number[]; groups?: number };
    const out = layer.outputShape as (number | null)[];
    const first = (v: number | number[] | undefined) => (Array.isArray(v) ? v[0] : v);
    stages.push({
      name: layer.name,
      kind: cls === "Dense" ? "dense" : "conv",
      shape: out.slice(1).map((d) => d ?? 0),
      groups: config.groups ?? 1,
      kernel: first(config.kernelSize),
      stride: first(config.strides),
    });
  }
  return stages;
}

/** Two towers when any layer is grouped: every layer's units are then split half and half. */
export function towerCount(stages: Stage[]): number {
  return Math.max(1, ...stages.map((s) => s.groups));
}

/** An SVG of the stages: boxes per tower, straight links within a tower, crossing links where a layer sees both. */
export function architectureSvg(model: tf.LayersModel, title = model.name): string {
  const stages = modelStages(model);
  const towers = towerCount(stages);
  const colW = 104;
  const left = 70;
  const W = left + colW * stages.length + 20;
  const laneH = 120;
  const top = 44;
  const H = top + laneH * towers + 40;
  const units = (s: Stage) => s.shape.reduce((a, b) => a * b, 1);
  const maxLog = Math.log10(Math.max(...stages.map(units), 10));
  const boxH = (s: Stage) => 18 + (laneH - 44) * (Math.log10(Math.max(units(s) / towers, 1)) / maxLog);
  const cx = (i: number) => left + colW * i + colW / 2;
  const cy = (t: number) => top + laneH * t + laneH / 2;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="10">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeHtml(title)}</text>`,
  ];
  // Input: one box feeding every tower of the first stage.
  const inputShape = (model.inputs[0].shape as (number | null)[]).slice(1).join("×");
  const inY = top + (laneH * towers) / 2;
  parts.push(
    `<rect x="8" y="${inY - 20}" width="44" height="40" fill="#eee" stroke="#444"/>`,
    `<text x="30" y="${inY + 4}" text-anchor="middle">input</text>`,
    `<text x="30" y="${inY + 32}" text-anchor="middle" font-size="9">${inputShape}</text>`,
  );
  stages.forEach((s, i) => {
    const sameTowerOnly = s.groups > 1;
    for (let t = 0; t < towers; t++) {
      // Links from the previous stage (or the input) into this tower.
      const sources = i === 0 ? [-1] : sameTowerOnly ? [t] : Array.from({ length: towers }, (_, u) => u);
      for (const u of sources) {
        const x0 = i === 0 ? 52 : cx(i - 1) + 30;
        const y0 = i === 0 ? inY : cy(u);
        const cross = u !== t && u >= 0;
        parts.push(
          `<line x1="${x0}" y1="${y0}" x2="${cx(i) - 30}" y2="${cy(t)}" stroke="${cross ? "#d62728" : "#888"}" stroke-width="${cross ? 1.5 : 1}"/>`,
        );
      }
    }
    for (let t = 0; t < towers; t++) {
      const h = boxH(s);
      const fill = s.kind === "conv" ? (t === 0 ? "#9ecae1" : "#fdae6b") : t === 0 ? "#c6dbef" : "#fdd0a2";
      const shape = s.shape.length === 3 ? `${s.shape[2] / towers} @ ${s.shape[0]}×${s.shape[1]}` : `${s.shape[0] / towers}`;
      parts.push(
        `<rect x="${cx(i) - 30}" y="${cy(t) - h / 2}" width="60" height="${h}" fill="${fill}" stroke="#444"><title>${escapeHtml(`${s.name}: ${s.shape.join("×")}${s.groups > 1 ? `, ${s.groups} groups` : ""}`)}</title></rect>`,
        `<text x="${cx(i)}" y="${cy(t) + h / 2 + 12}" text-anchor="middle" font-size="9">${escapeHtml(shape)}</text>`,
      );
    }
    const label = s.kind === "conv" ? `${s.name} ${s.kernel}×${s.kernel}${s.stride && s.stride > 1 ? `/${s.stride}` : ""}` : s.name;
    parts.push(`<text x="${cx(i)}" y="${top - 6}" text-anchor="middle" font-weight="bold">${escapeHtml(label)}</text>`);
  });
  if (towers > 1) {
    for (let t = 0; t < towers; t++)
      parts.push(`<text x="${W - 8}" y="${top + laneH * t + 12}" text-anchor="end" font-size="9" fill="#555">GPU ${t + 1}</text>`);
    parts.push(
      `<text x="${left}" y="${H - 10}" font-size="9" fill="#555">grey: within a tower; red: across towers (conv3 and the fully connected layers see both GPUs)</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("");
}
