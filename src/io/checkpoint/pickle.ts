/**
 * A minimal, safe pickle VM (protocols 0-5 binary opcodes that `torch.save` and ordinary containers emit).
 * Nothing is ever executed: globals are resolved through `findClass`, which returns a JS function for the few
 * callables the caller understands; everything else becomes an opaque `PyObject` placeholder.
 *
 * Python values map to: None → null, bool → boolean, int → number (exact up to 2^53; larger ints lose precision),
 * float → number, str → string, bytes → Uint8Array, list/tuple → array, dict → Map (insertion order kept).
 */

export class PickleError extends Error {}

/** A reference to a Python global (module.name) that the caller did not resolve. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object built from an unresolved global: kept opaque (its constructor arguments and state are recorded). */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: unknown,
    readonly args: unknown[],
  ) {}
}

export type PyCallable = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Resolve a global; return a function to make it callable, or undefined for an opaque placeholder. */
  findClass?: (module: string, name: string) => PyCallable | undefined;
  /** BINPERSID/PERSID handler. */
  persistentLoad?: (pid: unknown) => unknown;
}

const NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** The opcode's pickletools name, e.g. 'EXT1' or '0xff'. */
export function opcodeName(op: number): string {
  return NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

function signedLE(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}

/** Unpickle `buf`; throws PickleError on truncation, malformed streams and unsupported opcodes. */
export function unpickle(buf: Uint8Array, opts: UnpickleOptions = {}): unknown {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.byteLength;
  let pos = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (k: number): number => {
    if (pos + k > n) throw new PickleError(`pickle data truncated at byte ${pos} (needs ${k} more bytes)`);
    const p = pos;
    pos += k;
    return p;
  };
  const bytes = (k: number): Uint8Array => {
    const p = need(k);
    return buf.subarray(p, p + k);
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`pickle data truncated at byte ${pos} (unterminated line)`);
    const s = latin1.decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (!stack.length) throw new PickleError(`pickle stack underflow at byte ${pos}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (!stack.length) throw new PickleError(`pickle stack underflow at byte ${pos}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) throw new PickleError(`pickle MARK missing at byte ${pos}`);
    stack = prev;
    return items;
  };
  const getMemo = (k: number): unknown => {
    if (!memo.has(k)) throw new PickleError(`pickle memo key ${k} not found`);
    return memo.get(k);
  };
  const resolve = (module: string, name: string): unknown => opts.findClass?.(module, name) ?? new PyGlobal(module, name);
  const call = (fn: unknown, args: unknown[]): unknown => (typeof fn === 'function' ? (fn as PyCallable)(args) : new PyObject(fn, args));
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (d instanceof Map) for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
    else if (d instanceof PyObject) {
      // dict subclass we don't know: keep items in its state
      const m = (d.state instanceof Map ? d.state : (d.state = new Map())) as Map<unknown, unknown>;
      for (let i = 0; i + 1 < kv.length; i += 2) m.set(kv[i], kv[i + 1]);
    } else throw new PickleError('SETITEM(S) on a non-dict');
  };
  const appendItems = (l: unknown, items: unknown[]): void => {
    if (Array.isArray(l)) l.push(...items);
    else if (l instanceof PyObject) {
      const a = (Array.isArray(l.state) ? l.state : (l.state = [])) as unknown[];
      a.push(...items);
    } else throw new PickleError('APPEND(S) on a non-list');
  };

  for (;;) {
    const p = need(1);
    const op = buf[p];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        break;
      case 0x95: // FRAME
        need(8);
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: {
        // FROZENSET (popMark replaces `stack`, so pop before pushing)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85:
        stack.push([pop()]);
        break;
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(buf[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(dv.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT
        memo.set(parseInt(line(), 10), top());
        break;
      case 0x68: // BINGET
        stack.push(getMemo(buf[need(1)]));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(getMemo(dv.getUint32(need(4), true)));
        break;
      case 0x67: // GET
        stack.push(getMemo(parseInt(line(), 10)));
        break;
      case 0x58: {
        // BINUNICODE
        const k = dv.getUint32(need(4), true);
        stack.push(utf8.decode(bytes(k)));
        break;
      }
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(buf[need(1)])));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(Number(dv.getBigUint64(need(8), true)))));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(bytes(dv.getInt32(need(4), true))));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(buf[need(1)])));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(dv.getUint32(need(4), true)).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(buf[need(1)]).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(Number(dv.getBigUint64(need(8), true))).slice());
        break;
      case 0x4a: // BININT
        stack.push(dv.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(buf[need(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(dv.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
        stack.push(signedLE(bytes(buf[need(1)])));
        break;
      case 0x8b: // LONG4
        stack.push(signedLE(bytes(dv.getInt32(need(4), true))));
        break;
      case 0x49: {
        // INT (protocol 0; also booleans "01"/"00")
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number(s));
        break;
      }
      case 0x4c: // LONG (protocol 0)
        stack.push(Number(line().replace(/L$/, '')));
        break;
      case 0x46: // FLOAT (protocol 0)
        stack.push(parseFloat(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL needs two strings');
        stack.push(resolve(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        // Maps (OrderedDict `_metadata`), tensors and other resolved values ignore their state.
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x51: // BINPERSID
        if (!opts.persistentLoad) throw new PickleError('persistent id found but no persistent_load handler');
        stack.push(opts.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        if (!opts.persistentLoad) throw new PickleError('persistent id found but no persistent_load handler');
        stack.push(opts.persistentLoad(line()));
        break;
      default:
        throw new PickleError(`unsupported pickle opcode ${opcodeName(op)} (0x${op.toString(16).padStart(2, '0')}) at byte ${p}`);
    }
  }
}
