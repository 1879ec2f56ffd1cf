import assert from "node:assert/strict";
import { test } from "node:test";
import { Progress, formatDuration } from "../../lib/viz/progress";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return {
    chunks,
    stream: Object.assign({ write: (s: string) => (chunks.push(s), true) }, { isTTY }) as unknown as NodeJS.WritableStream & {
      isTTY: boolean;
    },
  };
}

test("formatDuration", () => {
  assert.equal(formatDuration(5), "0:05");
  assert.equal(formatDuration(125), "2:05");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(NaN), "?");
});

test("line mode prints once per tenth and a final line with rate and elapsed time", () => {
  let t = 0;
  const { chunks, stream } = sink(false);
  const p = new Progress("prepare", 100, { stream, unit: "img", now: () => t });
  for (let i = 0; i < 100; i++) {
    t += 10; // 100 img/s
    p.tick();
  }
  p.finish("done");
  assert.equal(chunks.length, 11, "ten tenths plus the final line");
  assert.match(chunks[0], /^prepare \[\.+\] 1% 1\/100 · 100 img\/s · ETA 0:01\n$/);
  assert.match(chunks.at(-1)!, /^prepare \[#{24}\] 100% 100\/100 · 100 img\/s · in 0:01 · done\n$/);
});

test("tty mode redraws in place at most every 100 ms", () => {
  let t = 0;
  const { chunks, stream } = sink(true);
  const p = new Progress("x", 10, { stream, now: () => t });
  p.tick();
  t += 50;
  p.tick();
  t += 60;
  p.tick();
  p.finish();
  assert.equal(chunks.length, 3);
  assert.ok(chunks.every((c) => c.startsWith("\r")));
  assert.ok(chunks.at(-1)!.endsWith("\n"));
  assert.match(chunks[1], /30% 3\/10/);
});
