// A tslab kernel in a child process, and a Jupyter client for it over ZeroMQ.
// The kernel runs under a guard (bin/kernel-guard.js) in a process group of its
// own, so that killing the group also kills anything a notebook started. The
// guard holds the runner's pipe and never runs notebook code: when the runner
// goes, however it goes (SIGKILL included), the guard kills the group and
// removes the kernel's temp folder, even while a cell loops forever.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import * as zmq from "zeromq";
import { type Message, decode, encode, newMessage } from "./protocol";

export interface ExecuteReply {
  status: "ok" | "error" | "abort" | string;
  execution_count?: number;
}

export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface KernelOptions {
  /** The kernel's working directory: the notebook's folder, as in JupyterLab. */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** How long the kernel may take to answer its first request. */
  startTimeoutMs?: number;
  /**
   * A kernelspec's argv ("{connection_file}" is replaced) instead of the runner's
   * launcher (bin/tslab-kernel.js, which also exits when its parent goes away).
   */
  argv?: string[];
}

const LAUNCHER = path.resolve(__dirname, "..", "..", "bin", "tslab-kernel.js");
const GUARD = path.resolve(__dirname, "..", "..", "bin", "kernel-guard.js");
const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

// Last line of defence against orphans: whatever way this process ends normally, its kernels go with it.
process.on("exit", () => {
  for (const child of live) killGroup(child, "SIGKILL");
});

/** Kills every kernel this process started; for signal handlers. */
export function killAllKernels(): void {
  for (const child of live) killGroup(child, "SIGKILL");
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.on("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Serialises sends: a zeromq socket allows one pending send at a time. */
class SendQueue {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly socket: zmq.Dealer) {}
  send(frames: string[]): Promise<void> {
    const next = this.tail.then(() => this.socket.send(frames));
    this.tail = next.catch(() => undefined);
    return next;
  }
}

type IopubHandler = (msg: Message) => void;

export class Kernel {
  readonly exited: Promise<KernelExit>;
  private readonly session = randomBytes(16).toString("hex");
  private readonly shell = new zmq.Dealer({ linger: 0 });
  private readonly control = new zmq.Dealer({ linger: 0 });
  private readonly iopub = new zmq.Subscriber({ linger: 0 });
  private readonly shellQueue = new SendQueue(this.shell);
  private readonly controlQueue = new SendQueue(this.control);
  private readonly replies = new Map<string, (msg: Message) => void>();
  private readonly iopubHandlers = new Map<string, IopubHandler>();
  private stderrTail = "";
  private closed = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly key: string,
    private readonly dir: string,
    ports: { shell: number; iopub: number; control: number },
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    const keep = (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-4000);
    };
    child.stderr?.on("data", keep);
    child.stdout?.on("data", keep);
    this.shell.connect(`tcp://127.0.0.1:${ports.shell}`);
    this.control.connect(`tcp://127.0.0.1:${ports.control}`);
    this.iopub.connect(`tcp://127.0.0.1:${ports.iopub}`);
    this.iopub.subscribe();
    void this.pump(this.shell, (msg) => this.replies.get(msg.parent_header.msg_id ?? "")?.(msg));
    void this.pump(this.control, (msg) => this.replies.get(msg.parent_header.msg_id ?? "")?.(msg));
    void this.pump(this.iopub, (msg) => this.iopubHandlers.get(msg.parent_header.msg_id ?? "")?.(msg));
  }

  /** The guard's pid, which is also the kernel's process group. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** What the kernel process printed outside cells (start-up failures, crashes). */
  get log(): string {
    return this.stderrTail;
  }

  static async start(options: KernelOptions): Promise<Kernel> {
    const [shell, iopub, stdin, control, hb] = await freePorts(5);
    const key = randomBytes(32).toString("hex");
    const dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-kernel-"));
    const connectionFile = path.join(dir, "connection.json");
    writeFileSync(
      connectionFile,
      JSON.stringify({
        shell_port: shell,
        iopub_port: iopub,
        stdin_port: stdin,
        control_port: control,
        hb_port: hb,
        ip: "127.0.0.1",
        key,
        transport: "tcp",
        signature_scheme: "hmac-sha256",
        kernel_name: "tslab",
      }),
      { mode: 0o600 },
    );
    const kernelArgv = options.argv?.map((a) => a.replaceAll("{connection_file}", connectionFile)) ?? [
      process.execPath,
      LAUNCHER,
      connectionFile,
    ];
    const child = spawn(process.execPath, [GUARD, dir, "--", ...kernelArgv], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true, // the guard leads a process group of its own: one kill reaches everything the kernel started
      stdio: ["pipe", "pipe", "pipe"],
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    const kernel = new Kernel(child, key, dir, { shell, iopub, control });
    try {
      await kernel.waitReady(options.startTimeoutMs ?? 60_000);
    } catch (err) {
      await kernel.shutdown();
      throw err;
    }
    return kernel;
  }

  private async pump(socket: zmq.Dealer | zmq.Subscriber, dispatch: (msg: Message) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        let msg: Message;
        try {
          msg = decode(this.key, frames);
        } catch {
          continue; // not ours or not signed with our key: ignore, as Jupyter clients do
        }
        dispatch(msg);
      }
    } catch {
      // socket closed
    }
  }

  private request(queue: SendQueue, msgType: string, content: unknown): { id: string; reply: Promise<Message> } {
    const msg = newMessage(msgType, content, this.session);
    const id = msg.header.msg_id;
    const reply = new Promise<Message>((resolve) => this.replies.set(id, resolve));
    void queue.send(encode(this.key, msg)).catch(() => undefined);
    return { id, reply: reply.finally(() => this.replies.delete(id)) };
  }

  /**
   * Waits until the kernel answers on shell and its iopub messages reach us.
   * A subscriber misses what was published before it joined, so kernel_info
   * is repeated until a status message for it arrives.
   */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const died = this.exited.then((e) => {
      throw new Error(`the tslab kernel exited during start-up (${describeExit(e)})${this.log ? `:\n${this.log.trim()}` : ""}`);
    });
    died.catch(() => undefined);
    while (Date.now() < deadline) {
      const { id, reply } = this.request(this.shellQueue, "kernel_info_request", {});
      let sawIopub = false;
      this.iopubHandlers.set(id, () => (sawIopub = true));
      const answered = await Promise.race([
        reply.then(() => true),
        died,
        sleep(Math.max(0, Math.min(2000, deadline - Date.now()))).then(() => false),
      ]);
      if (answered) {
        if (!sawIopub) await sleep(200);
        this.iopubHandlers.delete(id);
        if (sawIopub) return;
      } else {
        this.iopubHandlers.delete(id);
      }
    }
    throw new Error(`the tslab kernel did not answer within ${Math.round(timeoutMs / 1000)} s${this.log ? `:\n${this.log.trim()}` : ""}`);
  }

  /** The kernel's kernel_info_reply content (its implementation, language_info, ...). */
  async info(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const { id, reply } = this.request(this.shellQueue, "kernel_info_request", {});
    let timer: NodeJS.Timeout | undefined;
    const got = await Promise.race([
      reply,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (!got) this.replies.delete(id);
    if (!got) throw new Error(`the kernel did not answer kernel_info within ${Math.round(timeoutMs / 1000)} s`);
    return got.content as Record<string, unknown>;
  }

  /**
   * Runs code; `onIopub` sees every output message of this request. Resolves
   * when both the reply and the kernel's return to idle have arrived, so no
   * output of the cell is missed.
   */
  async execute(code: string, onIopub: IopubHandler): Promise<ExecuteReply> {
    let markIdle!: () => void;
    const idle = new Promise<void>((r) => (markIdle = r));
    const { id, reply } = this.request(this.shellQueue, "execute_request", {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    this.iopubHandlers.set(id, (msg) => {
      if (msg.header.msg_type === "status" && msg.content.execution_state === "idle") markIdle();
      else onIopub(msg);
    });
    try {
      const msg = await reply;
      // tslab publishes idle right after the reply; don't wait forever if it got lost.
      await Promise.race([idle, sleep(2000)]);
      return msg.content as unknown as ExecuteReply;
    } finally {
      this.iopubHandlers.delete(id);
    }
  }

  /** tslab stops a running cell only on SIGINT (it ignores interrupt_request); the guard passes it on. */
  interrupt(): void {
    if (this.child.pid !== undefined && this.child.exitCode === null) this.child.kill("SIGINT");
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Asks the kernel to shut down, then kills its whole process group; always cleans up. */
  async shutdown(graceMs = 1000): Promise<KernelExit> {
    if (!this.closed) {
      this.closed = true;
      if (this.running) {
        const { reply } = this.request(this.controlQueue, "shutdown_request", { restart: false });
        await Promise.race([reply, this.exited, sleep(graceMs)]);
      }
      // tslab closes its sockets on shutdown but the process may linger; the group kill is what guarantees it is gone.
      killGroup(this.child, "SIGKILL");
      for (const s of [this.shell, this.control, this.iopub]) s.close();
      rmSync(this.dir, { recursive: true, force: true });
    }
    return this.exited;
  }
}

export function describeExit(e: KernelExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
