import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { LivePlot, histogram, histogramFigure, niceTicks, plotHtmlPage, plotPng, svgChart } from "../../lib/viz/plot";

test("niceTicks picks steps of 1, 2 or 5 times a power of ten", () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 260), [0, 100, 200]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test("svgChart draws one bar per value and one polyline per line trace, with titles", () => {
  const svg = svgChart({
    data: [
      { type: "bar", x: ["a", "b", "c"], y: [1, 2, 3], name: "counts" },
      { x: ["a", "b", "c"], y: [2, 2, 2], name: "mean" },
    ],
    layout: { title: "T<1>", yaxis: { title: "images" } },
  });
  assert.equal(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#1f77b4">/g)?.length, 3);
  assert.equal(svg.match(/<polyline/g)?.length, 1);
  assert.match(svg, /T&lt;1&gt;/);
  assert.match(svg, />images</);
});

test("taller bars are drawn taller", () => {
  const svg = svgChart({ data: [{ type: "bar", x: ["a", "b"], y: [1, 4] }] });
  const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(heights.length, 2);
  assert.ok(Math.abs(heights[1] / heights[0] - 4) < 1e-6);
});

test("plotPng renders the SVG to a PNG of the layout's size", async () => {
  const meta = await sharp(await plotPng({ data: [{ x: [0, 1, 2], y: [1, 0, 1] }], layout: { width: 300, height: 200 } })).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 300, 200]);
});

test("plotHtmlPage embeds plotly.js and one newPlot call per figure", () => {
  const html = plotHtmlPage([{ data: [{ x: [1], y: [1] }] }, { data: [{ x: [1], y: [2] }] }], "run");
  assert.equal(html.match(/Plotly\.newPlot\("fig/g)?.length, 2);
  assert.ok(html.length > 1_000_000, "plotly.js is inlined, so the page works offline");
});

test("histogram counts values into equal bins, including the top edge", () => {
  const h = histogram([0, 0.5, 1, 1.5, 2, 4, NaN], 4, [0, 4]);
  assert.deepEqual(h.edges, [0, 1, 2, 3, 4]);
  assert.deepEqual(h.counts, [2, 2, 1, 1]);
  const auto = histogram([2, 2, 2]);
  assert.equal(auto.counts.reduce((a, b) => a + b, 0), 3, "a constant sample still lands in a bin");
  const fig = histogramFigure(h, "t", "x", 1);
  assert.deepEqual(fig.data[0].x, ["0.5", "1.5", "2.5", "3.5"]);
});

test("LivePlot prints its description outside a notebook, once per update", () => {
  const printed: string[] = [];
  const live = new LivePlot((t) => printed.push(t));
  live.update({ data: [{ x: [1], y: [1] }] }, "epoch 1");
  live.update({ data: [{ x: [1, 2], y: [1, 0.5] }] }, "epoch 2");
  assert.deepEqual(printed, ["epoch 1", "epoch 2"]);
});
