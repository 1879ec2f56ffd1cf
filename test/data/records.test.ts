import assert from "node:assert/strict";
import { test } from "node:test";
import { OpenFiles, ShardIndex } from "../../lib/data/records";

test("ShardIndex finds each record's shard and place, across boundaries and past empty shards", () => {
  const index = new ShardIndex([{ records: 3 }, { records: 0 }, { records: 2 }, { records: 1 }]);
  assert.equal(index.length, 6);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => index.locate(i)), [[0, 0], [0, 1], [0, 2], [2, 0], [2, 1], [3, 0]]);
  assert.deepEqual([0, 1, 2, 3].map((k) => index.start(k)), [0, 3, 3, 5]);
});

test("ShardIndex refuses an index outside the split, naming the split and its range", () => {
  const index = new ShardIndex([{ records: 2 }, { records: 2 }], "split val of data/x");
  for (const bad of [-1, 4, 1.5, NaN]) {
    assert.throws(() => index.locate(bad), (err: Error) => err instanceof RangeError && err.message === `record ${bad} is outside split val of data/x, which has 4 records (0..3).`);
  }
  assert.throws(() => new ShardIndex([{ records: 1 }]).locate(1), { message: "record 1 is outside the split, which has 1 records (0..0)." });
  assert.throws(() => new ShardIndex([]).locate(0), RangeError);
});

/** OpenFiles over fake handles that record what was opened and closed. */
function fakeFiles(limit: number) {
  const log: string[] = [];
  let serial = 0;
  const files = new OpenFiles<string>(
    limit,
    (file) => {
      if (file === "bad") throw new Error("cannot open bad");
      log.push(`open ${file}`);
      return `${file}#${serial++}`;
    },
    (handle) => {
      log.push(`close ${handle}`);
      return handle;
    },
  );
  return { files, log };
}

test("OpenFiles keeps a file open between uses and closes the least recently used past its limit", () => {
  const { files, log } = fakeFiles(2);
  const use = (file: string): string => {
    const lease = files.acquire(file);
    lease.release();
    return lease.handle;
  };
  assert.equal(use("a"), "a#0");
  assert.equal(use("b"), "b#1");
  assert.equal(use("a"), "a#0"); // still open; now the most recently used
  assert.equal(use("c"), "c#2"); // evicts b, not a
  assert.equal(files.size, 2);
  assert.equal(use("b"), "b#3");
  assert.deepEqual(log, ["open a", "open b", "open c", "close b#1", "open b", "close a#0"]);
});

test("OpenFiles closes an evicted file only when its last lease is released, once", () => {
  const { files, log } = fakeFiles(1);
  const a1 = files.acquire("a");
  const a2 = files.acquire("a");
  files.acquire("b").release(); // evicts a, which is in use twice
  assert.deepEqual(log, ["open a", "open b"]);
  assert.equal(a1.release(), undefined);
  assert.equal(a1.release(), undefined); // a second release does not count
  assert.deepEqual(log, ["open a", "open b"]);
  assert.equal(a2.release(), "a#0"); // returns what closing returned, for asynchronous handles
  assert.deepEqual(log, ["open a", "open b", "close a#0"]);
});

test("OpenFiles keeps nothing when opening fails, and discard() makes the next use open the file again", () => {
  const { files, log } = fakeFiles(4);
  assert.throws(() => files.acquire("bad"), /cannot open bad/);
  assert.equal(files.size, 0);
  const a = files.acquire("a");
  a.discard();
  a.release();
  assert.equal(files.acquire("a").handle, "a#1");
  assert.deepEqual(log, ["open a", "open a"]);
});

test("OpenFiles.closeAll closes every open file and returns what each close returned", () => {
  const { files, log } = fakeFiles(4);
  files.acquire("a").release();
  files.acquire("b"); // still in use: closed all the same
  assert.deepEqual(files.closeAll(), ["a#0", "b#1"]);
  assert.equal(files.size, 0);
  assert.deepEqual(log, ["open a", "open b", "close a#0", "close b#1"]);
});
