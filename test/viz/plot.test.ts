import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import {
  LivePlot,
  histogram,
  histogramFigure,
  jsonInScript,
  niceTicks,
  plotHtmlPage,
  plotPng,
  plotlyFigure,
  showPlot,
  svgChart,
} from "../../lib/viz/plot";

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

test("a trace name cannot break out of the page's script, and reads back as given", () => {
  const name = "</script><script>alert(1)</script> & <!--";
  const html = plotHtmlPage([{ data: [{ x: [1], y: [1], name }] }], "run");
  const scripts = html
    .split("<script>")
    .slice(1)
    .map((s) => s.split("</script>")[0]);
  assert.equal(scripts.length, 2, "plotly.js and the calls: no third script was opened by the name");
  assert.doesNotMatch(scripts[1], /alert\(1\)<\/script>/);
  const data = JSON.parse(scripts[1].slice(scripts[1].indexOf("["), scripts[1].lastIndexOf("]", scripts[1].indexOf(", {")) + 1)) as {
    name: string;
  }[];
  assert.equal(data[0].name, name, "the escapes mean the same string");
  assert.equal(jsonInScript({ a: "<>&\u2028" }), '{"a":"\\u003c\\u003e\\u0026\\u2028"}');
  assert.deepEqual(JSON.parse(jsonInScript({ a: "<>&\u2028" })), { a: "<>&\u2028" });
});

test("histogram counts values into equal bins, including the top edge", () => {
  const h = histogram([0, 0.5, 1, 1.5, 2, 4, NaN], 4, [0, 4]);
  assert.deepEqual(h.edges, [0, 1, 2, 3, 4]);
  assert.deepEqual(h.counts, [2, 2, 1, 1]);
  const auto = histogram([2, 2, 2]);
  assert.equal(
    auto.counts.reduce((a, b) => a + b, 0),
    3,
    "a constant sample still lands in a bin",
  );
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

test("plotlyFigure: plotly.js 3's title objects, whole-number ticks on integer axes, the legend outside the plot", () => {
  const fig = plotlyFigure({
    data: [{ x: [1, 2, 3, 4, 5, 6, 7], y: [0.9, 0.5, 0.3, 0.2, 0.2, 0.1, 0.1], name: "train" }],
    layout: { title: "error", xaxis: { title: "epoch", integer: true }, yaxis: { title: "error", range: [0, 1] } },
  });
  assert.deepEqual(fig.layout.title, { text: "error" });
  assert.deepEqual(fig.layout.xaxis, { title: { text: "epoch" }, tickformat: "d", tick0: 0, dtick: 2 });
  assert.deepEqual(fig.layout.yaxis, { title: { text: "error" }, range: [0, 1] });
  assert.ok((fig.layout.legend as { x: number }).x > 1, "legend to the right of the plot area");
  // No title anywhere as a plain string: plotly.js 3 would draw none.
  assert.doesNotMatch(JSON.stringify(fig.layout), /"title":"/);
  assert.match(plotHtmlPage([{ data: [{ x: [1], y: [1] }], layout: { title: "t" } }], "p"), /"title":\{"text":"t"\}/);
});

test("niceTicks on a whole-number axis never ticks between integers", () => {
  assert.deepEqual(niceTicks(1, 3, 5, true), [1, 2, 3]);
  assert.deepEqual(niceTicks(1, 3), [1, 1.5, 2, 2.5, 3], "a continuous axis may");
  assert.ok(!/>1\.5</.test(svgChart({ data: [{ x: [1, 2, 3], y: [1, 2, 3] }], layout: { xaxis: { integer: true } } })));
});

test("svgChart puts the legend beside the plot area, not on the data", () => {
  const svg = svgChart({ data: [{ x: [0, 1], y: [0.9, 0.9], name: "a long series name" }], layout: { width: 640 } });
  const plotRight = Math.max(...[...svg.matchAll(/<line x1="[\d.]+" x2="([\d.]+)"/g)].map((m) => Number(m[1])));
  const legendX = Number(svg.match(/<rect x="([\d.]+)" y="[\d.]+" width="10" height="10"/)![1]);
  assert.ok(legendX > plotRight, `legend at x=${legendX}, plot ends at ${plotRight}`);
});

test("in a notebook a chart is plotly JSON, a PNG shown at the chart's size, and text: no SVG, which untrusted and nbconvert 6.5 views drop", async () => {
  const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };
  const shown: { data: Record<string, unknown>; metadata: Record<string, unknown> }[] = [];
  jupyter.lastWriteDisplayData = (d: { data: Record<string, unknown>; metadata: Record<string, unknown> }) => shown.push(d);
  try {
    await showPlot({ data: [{ x: [1, 2], y: [1, 2] }], layout: { title: "t", width: 300, height: 200 } }, "a line");
    const live = new LivePlot();
    void live.update({ data: [{ x: [1], y: [1] }] }, "epoch 1");
    void live.update({ data: [{ x: [1, 2], y: [1, 2] }] }, "epoch 2");
    await live.flushed();
  } finally {
    jupyter.lastWriteDisplayData = null;
  }
  assert.equal(shown.length, 3);
  assert.deepEqual(Object.keys(shown[0].data).sort(), ["application/vnd.plotly.v1+json", "image/png", "text/plain"]);
  assert.deepEqual(shown[0].metadata, { "image/png": { width: 300, height: 200 } });
  const png = await sharp(Buffer.from(shown[0].data["image/png"] as string, "base64")).metadata();
  assert.deepEqual([png.width, png.height], [600, 400], "drawn at twice the size it is shown at");
  assert.deepEqual((shown[0].data["application/vnd.plotly.v1+json"] as { layout: { title: unknown } }).layout.title, { text: "t" });
  assert.deepEqual(
    shown.slice(1).map((s) => s.data["text/plain"]),
    ["epoch 1", "epoch 2"],
    "live updates arrive in order",
  );
});
