#!/usr/bin/env node
// The kernel's guard: the runner (lib/notebook/kernel.ts) starts this process,
// which starts the kernel. It never runs a notebook's code, so its event loop is
// always free to notice that the runner is gone, which the kernel cannot do
// while a cell holds its thread (`while (true) {}`). When the runner's pipe
// closes, however the runner ended (even SIGKILL), the guard removes the
// kernel's temp folder and kills its own process group: the kernel and whatever
// the notebook started, the guard last.
//
// usage: kernel-guard.js TEMP_DIR -- COMMAND [ARGS...]
// The runner starts the guard as a process group leader (detached); the kernel
// stays in that group. SIGINT is passed on to the kernel (tslab stops a cell on
// it); the guard exits as the kernel did, with its code or signal.
"use strict";
const { spawn } = require("node:child_process");
const { rmSync } = require("node:fs");

const [tempDir, separator, command, ...args] = process.argv.slice(2);
if (!tempDir || separator !== "--" || !command) {
  console.error("usage: kernel-guard.js TEMP_DIR -- COMMAND [ARGS...]");
  process.exit(2);
}

function removeTempDir() {
  try {
    rmSync(tempDir, { recursive: true, force: true });
  } catch {
    // Nothing more to do: the folder is the runner's to report.
  }
}

let ending = false;
function killEverything() {
  if (ending) return;
  ending = true;
  removeTempDir();
  try {
    process.kill(-process.pid, "SIGKILL"); // the whole group, the guard included
  } catch {
    kernel.kill("SIGKILL");
    process.exit(1);
  }
}

// The kernel reads nothing from stdin, but bin/tslab-kernel.js exits when it closes: keep it open.
const kernel = spawn(command, args, { stdio: ["pipe", "inherit", "inherit"] });
kernel.on("error", (err) => {
  console.error(`kernel-guard: could not start ${command}: ${err.message}`);
  removeTempDir();
  process.exit(127);
});
let kernelExited = false;
kernel.on("exit", (code, signal) => {
  kernelExited = true;
  removeTempDir();
  // What the notebook started may outlive the kernel; the group goes too (the guard ignores this SIGTERM).
  try {
    process.kill(-process.pid, "SIGTERM");
  } catch {
    // no group left
  }
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});

process.on("SIGINT", () => {
  if (kernel.exitCode === null && kernel.signalCode === null) kernel.kill("SIGINT");
});
process.on("SIGTERM", () => {
  if (!kernelExited) killEverything();
});
process.on("SIGHUP", killEverything);
process.stdin.on("end", killEverything);
process.stdin.on("error", killEverything);
process.stdin.resume();
