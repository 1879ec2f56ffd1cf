import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { groupedConv2d } from "../../lib/model/layers/grouped-conv";
import { architectureSvg, modelStages, towerCount } from "../../lib/viz/architecture";

function twoTower(): tf.Sequential {
  return tf.sequential({
    name: "tiny",
    layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, strides: 2, name: "c1" }),
      groupedConv2d({ filters: 8, kernelSize: 3, padding: "same", groups: 2, name: "c2" }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, name: "c3" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 6, name: "fc" }),
    ],
  });
}

test("modelStages lists the layers with weights, their output shapes and groups", () => {
  const stages = modelStages(twoTower());
  assert.deepEqual(
    stages.map((s) => [s.name, s.kind, s.shape, s.groups, s.kernel ?? null, s.stride ?? null]),
    [
      ["c1", "conv", [7, 7, 8], 1, 3, 2],
      ["c2", "conv", [7, 7, 8], 2, 3, 1],
      ["c3", "conv", [5, 5, 4], 1, 3, 1],
      ["fc", "dense", [6], 1, null, null],
    ],
  );
  assert.equal(towerCount(stages), 2);
});

test("architectureSvg: two boxes per stage, crossing links only into full connections", () => {
  const svg = architectureSvg(twoTower(), "tiny <net>");
  assert.match(svg, /^<svg /);
  assert.match(svg, /tiny &lt;net&gt;/);
  assert.equal(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="60"/g)?.length, 8, "4 stages x 2 towers");
  // Crossing (red) links: into c1 none (it reads the input), c2 none (grouped), c3 two, fc two.
  assert.equal(svg.match(/stroke="#d62728"/g)?.length, 4);
  assert.match(svg, /GPU 2/);
  const one = architectureSvg(tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, name: "d" })] }));
  assert.equal(one.match(/width="60"/g)?.length, 1, "one tower without groups");
  assert.doesNotMatch(one, /GPU/);
});
