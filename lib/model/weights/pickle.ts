// A restricted reader of Python pickles (protocols 2 to 5, the binary opcodes
// torch.save emits). Python's own unpickler calls whatever callable a pickle
// names: a checkpoint can run `os.system` the moment it is loaded. This one
// executes nothing from the file. A pickle may name only the globals the
// caller allows, each mapped to a plain JavaScript function; any other name is
// refused at the GLOBAL / STACK_GLOBAL opcode itself, before its arguments are
// even read.
//
// Python values become: None null, bool boolean, int number (bigint beyond
// 2^53), float number, str string, bytes Uint8Array, list array, tuple frozen
// array, dict Map (insertion order kept), allowed objects whatever their handler
// returns.

/** What a pickle may name: a handler per "module.name". */
export interface GlobalHandler {
  /** REDUCE / NEWOBJ: the object made from these arguments. */
  call(args: readonly unknown[]): unknown;
  /** BUILD on an object this handler made (Python's __setstate__). Without it, BUILD is refused. */
  build?(obj: unknown, state: unknown): unknown;
}

export interface UnpickleOptions {
  /** Allowed globals by "module.name"; every other global is refused. */
  globals: Readonly<Record<string, GlobalHandler>>;
  /** BINPERSID: what a persistent id stands for (torch: a storage). Without it, BINPERSID is refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Named in errors: the file (and entry) the bytes came from. */
  source?: string;
  /** Appended to the message when a global is refused: what the caller wants instead. */
  refusalHint?: string;
  /** Byte to start at; files may hold several pickles back to back. */
  offset?: number;
}

export class PickleError extends Error {
  override name = "PickleError";
  constructor(
    message: string,
    /** Byte offset of the opcode at fault. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** The bytes end before the pickle's STOP: a reader may fetch more and try again. */
export class PickleTruncatedError extends PickleError {
  override name = "PickleTruncatedError";
}

/** A global outside the allow-list: the pickle would have run code. */
export class RefusedGlobalError extends PickleError {
  override name = "RefusedGlobalError";
  constructor(
    message: string,
    offset: number,
    /** "module.name" as the pickle spells it, e.g. "posix.system". */
    readonly callable: string,
  ) {
    super(message, offset);
  }
}

/** A global the pickle named, resolved to its handler; what persistentLoad sees of e.g. torch.FloatStorage. */
export class PickleGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly handler: GlobalHandler,
  ) {}
}

const MARK = Symbol("mark");

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads one pickle; returns its value and the offset just past its STOP. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): { value: unknown; end: number } {
  const vm = new Unpickler(bytes, options);
  for (;;) {
    const op = vm.next();
    const run = OPCODES[op]?.run;
    if (!run) vm.unsupported();
    else if (run(vm) === STOP) return { value: vm.pop(), end: vm.pos };
  }
}

/**
 * The pickle machine's state (stack, marks, memo, read position) and the reads
 * and checks its opcodes share. Each opcode is one entry of OPCODES below: a
 * dispatch table, as Python's own pickle.py has, so that an opcode reads on its
 * own and the loop stays a loop.
 */
class Unpickler {
  readonly source: string;
  readonly view: DataView;
  readonly memo = new Map<number, unknown>();
  // Which handler made each object, so BUILD asks the right one.
  readonly madeBy = new WeakMap<object, GlobalHandler>();
  readonly metastack: unknown[][] = [];
  stack: unknown[] = [];
  pos: number;
  /** Offset of the current opcode, for errors. */
  at: number;
  op = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly options: UnpickleOptions,
  ) {
    this.source = options.source ?? "pickle";
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = this.at = options.offset ?? 0;
  }

  /** The next opcode; the bytes must not end before a STOP. */
  next(): number {
    this.at = this.pos;
    if (this.pos >= this.bytes.length) {
      this.op = -1;
      throw new PickleTruncatedError(
        `${this.source}: the pickle is truncated: it ends at byte ${this.pos} without a STOP opcode.`,
        this.pos,
      );
    }
    this.op = this.bytes[this.pos++];
    return this.op;
  }

  private opName(): string {
    return OPCODES[this.op]?.name ?? `opcode 0x${hex(this.op)}`;
  }

  fail(message: string): never {
    throw new PickleError(`${this.source}: ${message} (${this.opName()} at byte ${this.at}).`, this.at);
  }

  truncated(detail: string): never {
    throw new PickleTruncatedError(`${this.source}: the pickle is truncated: ${detail} (${this.opName()} at byte ${this.at}).`, this.at);
  }

  unsupported(): never {
    const op = this.op;
    const printable = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : "";
    throw new PickleError(
      `${this.source}: unsupported pickle opcode 0x${hex(op)}${printable} at byte ${this.at}; only the binary opcodes torch.save writes (protocols 2-5) are read.`,
      this.at,
    );
  }

  /** Claims n bytes; returns where they start. */
  take(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`length ${n} is invalid`);
    if (this.pos + n > this.bytes.length) this.truncated(`${n} more bytes needed, ${this.bytes.length - this.pos} left`);
    const start = this.pos;
    this.pos += n;
    return start;
  }

  u8(): number {
    return this.bytes[this.take(1)];
  }

  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  u64(): number {
    const big = this.view.getBigUint64(this.take(8), true);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${big} is too large`);
    return Number(big);
  }

  push(v: unknown): void {
    this.stack.push(v);
  }

  pop(): unknown {
    if (this.stack.length === 0) this.fail("stack underflow");
    const v = this.stack.pop();
    if (v === MARK) this.fail("unexpected MARK");
    return v;
  }

  top(): unknown {
    if (this.stack.length === 0) this.fail("stack underflow");
    return this.stack[this.stack.length - 1];
  }

  mark(): void {
    this.metastack.push(this.stack);
    this.stack = [];
  }

  /** The items pushed since the last MARK; the stack before it comes back. */
  popMark(): unknown[] {
    if (this.metastack.length === 0) this.fail("no MARK to pop to");
    const items = this.stack;
    this.stack = this.metastack.pop() as unknown[];
    return items;
  }

  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.truncated("a GLOBAL's name has no end of line");
    const text = utf8.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  text(n: number): string {
    const start = this.take(n);
    try {
      return utf8.decode(this.bytes.subarray(start, start + n));
    } catch {
      return this.fail("a string is not valid UTF-8");
    }
  }

  rawBytes(n: number): Uint8Array {
    const start = this.take(n);
    return this.bytes.slice(start, start + n);
  }

  resolve(module: string, name: string): PickleGlobal {
    const qualified = `${module}.${name}`;
    const globals = this.options.globals;
    const handler = Object.prototype.hasOwnProperty.call(globals, qualified) ? globals[qualified] : undefined;
    if (!handler) {
      const hint = this.options.refusalHint;
      throw new RefusedGlobalError(
        `${this.source}: refused to load: the pickle names ${qualified} (${this.opName()} at byte ${this.at}), which is not on the allow-list; ` +
          `nothing from the file was run.${hint ? ` ${hint}` : ""}`,
        this.at,
        qualified,
      );
    }
    return new PickleGlobal(qualified, handler);
  }

  /** A handler's complaint about its arguments, reported with the file and the opcode's offset. */
  guarded<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PickleError) throw err;
      return this.fail(`${what}: ${(err as Error).message}`);
    }
  }

  call(fn: unknown, args: unknown): unknown {
    if (!(fn instanceof PickleGlobal)) return this.fail(`only an allowed global can be called, got ${describe(fn)}`);
    if (!Array.isArray(args)) return this.fail(`${fn.qualifiedName}'s arguments must be a tuple, got ${describe(args)}`);
    const obj = this.guarded(fn.qualifiedName, () => fn.handler.call(args));
    if (obj !== null && typeof obj === "object") this.madeBy.set(obj, fn.handler);
    return obj;
  }

  build(obj: unknown, state: unknown): unknown {
    const build = obj !== null && typeof obj === "object" ? this.madeBy.get(obj)?.build : undefined;
    if (!build) return this.fail(`BUILD (setting an object's state) is not supported on ${describe(obj)}`);
    return this.guarded("BUILD", () => build(obj, state));
  }

  persistent(pid: unknown): unknown {
    const load = this.options.persistentLoad;
    if (!load) return this.fail("persistent ids are not expected in this pickle");
    return this.guarded("persistent id", () => load(pid));
  }

  setItems(dict: unknown, items: unknown[]): void {
    if (!(dict instanceof Map)) this.fail(`SETITEM(S) needs a dict, got ${describe(dict)}`);
    if (items.length % 2) this.fail("SETITEMS needs key/value pairs");
    for (let i = 0; i < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  }

  append(list: unknown, items: unknown[]): void {
    if (!Array.isArray(list) || Object.isFrozen(list)) this.fail(`APPEND(S) needs a list, got ${describe(list)}`);
    (list as unknown[]).push(...items);
  }

  memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored`);
    return this.memo.get(i);
  }

  /** LONG1 / LONG4: a little-endian two's-complement int of n bytes. */
  long(n: number, which: string): number | bigint {
    // torch writes sizes and offsets (8 bytes at most); decoding is quadratic in n, so a huge one would hang the reader.
    if (n > MAX_LONG_BYTES) this.fail(`a ${n}-byte integer (${which}); a state dict's integers take at most ${MAX_LONG_BYTES} bytes`);
    return decodeLong(this.bytes.subarray(this.take(n), this.pos));
  }
}

const STOP = Symbol("stop");
const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);

/** The binary opcodes torch.save writes (protocols 2 to 5), by byte. */
const OPCODES: Record<number, { name: string; run: (vm: Unpickler) => void | typeof STOP }> = {
  0x80: {
    name: "PROTO",
    run: (vm) => {
      if (vm.u8() > 5) vm.fail("pickle protocols above 5 are not supported");
    },
  },
  0x95: { name: "FRAME", run: (vm) => void vm.u64() }, // a length hint only
  0x2e: { name: "STOP", run: () => STOP },
  0x28: { name: "MARK", run: (vm) => vm.mark() },
  0x30: {
    name: "POP",
    run: (vm) => {
      if (vm.stack.length && vm.stack[vm.stack.length - 1] === MARK) vm.stack.pop();
      else vm.pop();
    },
  },
  0x31: { name: "POP_MARK", run: (vm) => void vm.popMark() },
  0x32: { name: "DUP", run: (vm) => vm.push(vm.top()) },
  0x7d: { name: "EMPTY_DICT", run: (vm) => vm.push(new Map()) },
  0x5d: { name: "EMPTY_LIST", run: (vm) => vm.push([]) },
  0x29: { name: "EMPTY_TUPLE", run: (vm) => vm.push(tuple([])) },
  // popMark swaps the stack, so it runs before push.
  0x74: { name: "TUPLE", run: (vm) => vm.push(tuple(vm.popMark())) },
  0x85: { name: "TUPLE1", run: (vm) => vm.push(tuple([vm.pop()])) },
  0x86: {
    name: "TUPLE2",
    run: (vm) => {
      const b = vm.pop();
      vm.push(tuple([vm.pop(), b]));
    },
  },
  0x87: {
    name: "TUPLE3",
    run: (vm) => {
      const c = vm.pop();
      const b = vm.pop();
      vm.push(tuple([vm.pop(), b, c]));
    },
  },
  0x6c: { name: "LIST", run: (vm) => vm.push(vm.popMark()) },
  0x64: {
    name: "DICT",
    run: (vm) => {
      const dict = new Map();
      vm.setItems(dict, vm.popMark());
      vm.push(dict);
    },
  },
  0x71: { name: "BINPUT", run: (vm) => void vm.memo.set(vm.u8(), vm.top()) },
  0x72: { name: "LONG_BINPUT", run: (vm) => void vm.memo.set(vm.u32(), vm.top()) },
  0x94: { name: "MEMOIZE", run: (vm) => void vm.memo.set(vm.memo.size, vm.top()) },
  0x68: { name: "BINGET", run: (vm) => vm.push(vm.memoGet(vm.u8())) },
  0x6a: { name: "LONG_BINGET", run: (vm) => vm.push(vm.memoGet(vm.u32())) },
  0x58: { name: "BINUNICODE", run: (vm) => vm.push(vm.text(vm.u32())) },
  0x8c: { name: "SHORT_BINUNICODE", run: (vm) => vm.push(vm.text(vm.u8())) },
  0x8d: { name: "BINUNICODE8", run: (vm) => vm.push(vm.text(vm.u64())) },
  0x42: { name: "BINBYTES", run: (vm) => vm.push(vm.rawBytes(vm.u32())) },
  0x43: { name: "SHORT_BINBYTES", run: (vm) => vm.push(vm.rawBytes(vm.u8())) },
  0x8e: { name: "BINBYTES8", run: (vm) => vm.push(vm.rawBytes(vm.u64())) },
  0x4a: { name: "BININT", run: (vm) => vm.push(vm.view.getInt32(vm.take(4), true)) },
  0x4b: { name: "BININT1", run: (vm) => vm.push(vm.u8()) },
  0x4d: { name: "BININT2", run: (vm) => vm.push(vm.u16()) },
  0x8a: { name: "LONG1", run: (vm) => vm.push(vm.long(vm.u8(), "LONG1")) },
  0x8b: { name: "LONG4", run: (vm) => vm.push(vm.long(vm.u32(), "LONG4")) },
  // Big-endian, unlike everything else.
  0x47: { name: "BINFLOAT", run: (vm) => vm.push(vm.view.getFloat64(vm.take(8), false)) },
  0x4e: { name: "NONE", run: (vm) => vm.push(null) },
  0x88: { name: "NEWTRUE", run: (vm) => vm.push(true) },
  0x89: { name: "NEWFALSE", run: (vm) => vm.push(false) },
  0x73: {
    name: "SETITEM",
    run: (vm) => {
      const value = vm.pop();
      const key = vm.pop();
      vm.setItems(vm.top(), [key, value]);
    },
  },
  0x75: {
    name: "SETITEMS",
    run: (vm) => {
      const items = vm.popMark();
      vm.setItems(vm.top(), items);
    },
  },
  0x61: {
    name: "APPEND",
    run: (vm) => {
      const value = vm.pop();
      vm.append(vm.top(), [value]);
    },
  },
  0x65: {
    name: "APPENDS",
    run: (vm) => {
      const items = vm.popMark();
      vm.append(vm.top(), items);
    },
  },
  // "module\nname\n", checked against the allow-list before anything else is read.
  0x63: {
    name: "GLOBAL",
    run: (vm) => {
      const module = vm.line();
      vm.push(vm.resolve(module, vm.line()));
    },
  },
  0x93: {
    name: "STACK_GLOBAL",
    run: (vm) => {
      const name = vm.pop();
      const module = vm.pop();
      if (typeof module !== "string" || typeof name !== "string") vm.fail("STACK_GLOBAL needs two strings");
      vm.push(vm.resolve(module as string, name as string));
    },
  },
  0x52: {
    name: "REDUCE",
    run: (vm) => {
      const args = vm.pop();
      vm.push(vm.call(vm.pop(), args));
    },
  },
  // cls.__new__(cls, *args): the same call for our handlers.
  0x81: {
    name: "NEWOBJ",
    run: (vm) => {
      const args = vm.pop();
      vm.push(vm.call(vm.pop(), args));
    },
  },
  0x62: {
    name: "BUILD",
    run: (vm) => {
      const state = vm.pop();
      vm.push(vm.build(vm.pop(), state));
    },
  },
  0x51: { name: "BINPERSID", run: (vm) => vm.push(vm.persistent(vm.pop())) },
};

const MAX_LONG_BYTES = 64;

/** Python's little-endian two's-complement int: a number when it is safe, a bigint otherwise. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof PickleGlobal) return v.qualifiedName;
  if (v instanceof Map) return "a dict";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v instanceof Uint8Array) return "bytes";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
