import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { acquireRunLock, runLockOwner } from "../../lib/run/lock";
import { LOCK_FILE } from "../../lib/run/run";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-lock-");
after(tmp.cleanup);
let n = 0;
const newRun = () => path.join(tmp.dir, `run${n++}`);
const writeLock = (run: string, owner: object) => writeFileSync(path.join(run, LOCK_FILE), JSON.stringify(owner));

/** The pid of a process that has exited: nothing runs under it now. */
function deadPid(): number {
  const r = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

test("a run lock holds pid, host and start, and a second taker is refused naming the holder", () => {
  const run = newRun();
  const lock = acquireRunLock(run);
  const owner = runLockOwner(run)!;
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.host, os.hostname());
  assert.ok(!Number.isNaN(Date.parse(owner.started)));
  assert.throws(
    () => acquireRunLock(run),
    (err: Error) => {
      assert.equal(err.name, "RunLockedError");
      assert.match(err.message, new RegExp(`in use by process ${process.pid} on ${os.hostname()} \\(alexnet train, since`));
      assert.match(err.message, /wait for it to finish or stop it/);
      return true;
    },
  );
  assert.deepEqual(runLockOwner(run), owner, "the refusal leaves the holder's lock as it was");
  lock.release();
  assert.equal(existsSync(path.join(run, LOCK_FILE)), false);
  lock.release(); // twice is harmless
});

test("a lock held by another live process is refused; its file is not touched", async () => {
  const run = newRun();
  acquireRunLock(run).release();
  const other = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const theirs = { pid: other.pid, host: os.hostname(), started: "2026-01-01T00:00:00.000Z", command: "alexnet train" };
    writeLock(run, theirs);
    assert.throws(() => acquireRunLock(run), new RegExp(`in use by process ${other.pid}`));
    assert.deepEqual(JSON.parse(readFileSync(path.join(run, LOCK_FILE), "utf8")), theirs);
  } finally {
    other.kill("SIGKILL");
  }
});

test("a stale lock (its process is gone, or the file is unreadable) is taken over and says whose it was", () => {
  const run = newRun();
  acquireRunLock(run).release();
  const dead = deadPid();
  writeLock(run, { pid: dead, host: os.hostname(), started: "2026-01-01T00:00:00.000Z", command: "alexnet train" });
  const lock = acquireRunLock(run);
  assert.equal(lock.tookOver?.pid, dead);
  assert.equal(runLockOwner(run)?.pid, process.pid);
  lock.release();
  writeFileSync(path.join(run, LOCK_FILE), "");
  const again = acquireRunLock(run);
  assert.equal(again.tookOver?.command, "an unreadable lock");
  again.release();
});

test("a lock with this process's pid but an earlier start was left by a process that died and whose pid came back: stale", () => {
  const run = newRun();
  acquireRunLock(run).release();
  writeLock(run, { pid: process.pid, host: os.hostname(), started: "2020-01-01T00:00:00.000Z", command: "alexnet train" });
  const lock = acquireRunLock(run);
  assert.equal(lock.tookOver?.started, "2020-01-01T00:00:00.000Z");
  assert.throws(() => acquireRunLock(run), /in use by process/, "this process's own live lock is not stale");
  lock.release();
  assert.deepEqual(readdirSync(run), [], "no temporary or moved-aside file is left");
  const file = path.join(tmp.dir, "a-file");
  writeFileSync(file, "");
  assert.throws(() => acquireRunLock(file), /is a file, not a folder/);
});

test("a lock from another host cannot be checked, so it is refused with how to clear it", () => {
  const run = newRun();
  acquireRunLock(run).release();
  writeLock(run, { pid: 1, host: "elsewhere.example", started: "2026-01-01T00:00:00.000Z", command: "alexnet train" });
  assert.throws(
    () => acquireRunLock(run),
    /in use by process 1 on elsewhere\.example .*if nothing on elsewhere\.example is training it any more, remove .*run\.lock/,
  );
});

test("release leaves a lock that is no longer this process's; a process that exits without releasing lets go", () => {
  const run = newRun();
  const lock = acquireRunLock(run);
  const theirs = { pid: process.pid, host: os.hostname(), started: "2020-01-01T00:00:00.000Z", command: "another taker" };
  writeLock(run, theirs);
  lock.release();
  assert.deepEqual(runLockOwner(run), theirs);

  const exiting = newRun();
  const script = `require(${JSON.stringify(path.resolve(__dirname, "../../lib/run/lock"))}).acquireRunLock(${JSON.stringify(exiting)}); process.exit(3);`;
  const r = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "-e", script], {
    cwd: path.resolve(__dirname, "../.."),
    encoding: "utf8",
  });
  assert.equal(r.status, 3, r.stderr);
  assert.equal(existsSync(path.join(exiting, LOCK_FILE)), false, "the exit handler removed it");
});
