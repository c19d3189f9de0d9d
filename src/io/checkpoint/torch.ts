/**
 * Read PyTorch `torch.save` checkpoints in the zip format (the default since torch 1.6): `<prefix>/data.pkl`
 * (a pickle whose tensors are `torch._utils._rebuild_tensor_v2` calls on persistent storages) and
 * `<prefix>/data/<key>` raw storages. No Python code is executed; unknown globals (optimizer classes, numpy
 * scalars, ...) become opaque placeholders, so only the state dict must be understood.
 *
 * Every tensor is returned as float32 in its PyTorch layout (non-contiguous views are materialised in row-major
 * order). `{"state_dict": {...}, "epoch": ...}` wrappers (the MONAI SSL tutorial's `vitautoenc_weights.pt`) and bare
 * state dicts (`best_metric_model.pth`) are both accepted.
 */
import { promises as fsp } from 'node:fs';
import { CheckpointError, halfToFloat, type StateDict } from './safetensors';
import { PickleError, PyGlobal, PyObject, unpickle, type PyCallable } from './pickle';
import { isZip, ZipFormatError, ZipReader } from './zip';

type DType = 'f32' | 'f64' | 'f16' | 'bf16' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'f32',
  DoubleStorage: 'f64',
  HalfStorage: 'f16',
  BFloat16Storage: 'bf16',
  LongStorage: 'i64',
  IntStorage: 'i32',
  ShortStorage: 'i16',
  CharStorage: 'i8',
  ByteStorage: 'u8',
  BoolStorage: 'bool',
};
const ITEMSIZE: Record<DType, number> = { f32: 4, f64: 8, f16: 2, bf16: 2, i64: 8, i32: 4, i16: 2, i8: 1, u8: 1, bool: 1 };

/** A storage referenced by a persistent id; its bytes are read from the zip on first use. */
class Storage {
  private bytes?: Uint8Array;
  constructor(
    readonly dtype: DType | undefined,
    readonly typeName: string,
    readonly key: string,
    readonly numel: number,
    private readonly load: (key: string) => Uint8Array,
  ) {}
  data(): Uint8Array {
    return (this.bytes ??= this.load(this.key));
  }
}

/** A tensor as described by `_rebuild_tensor_v2`; decoded lazily (only state-dict tensors ever are). */
class TorchTensor {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

function reader(dtype: DType, dv: DataView, le: boolean): (i: number) => number {
  switch (dtype) {
    case 'f32':
      return (i) => dv.getFloat32(4 * i, le);
    case 'f64':
      return (i) => dv.getFloat64(8 * i, le);
    case 'f16':
      return (i) => halfToFloat(dv.getUint16(2 * i, le));
    case 'bf16': {
      const tmp = new DataView(new ArrayBuffer(4));
      return (i) => {
        tmp.setUint32(0, dv.getUint16(2 * i, le) << 16, true);
        return tmp.getFloat32(0, true);
      };
    }
    case 'i64':
      return (i) => Number(dv.getBigInt64(8 * i, le));
    case 'i32':
      return (i) => dv.getInt32(4 * i, le);
    case 'i16':
      return (i) => dv.getInt16(2 * i, le);
    case 'i8':
      return (i) => dv.getInt8(i);
    case 'u8':
      return (i) => dv.getUint8(i);
    case 'bool':
      return (i) => (dv.getUint8(i) ? 1 : 0);
  }
}

function materialise(t: TorchTensor, name: string, file: string, littleEndian: boolean): Float32Array {
  const st = t.storage;
  if (!st.dtype) throw new CheckpointError(file, `tensor '${name}' has unsupported storage type torch.${st.typeName}`);
  const size = ITEMSIZE[st.dtype];
  const bytes = st.data();
  const available = Math.floor(bytes.byteLength / size);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (n === 0) return out;
  let maxIndex = t.offset;
  for (let d = 0; d < t.shape.length; d++) maxIndex += (t.shape[d] - 1) * t.stride[d];
  if (t.offset < 0 || maxIndex >= available || t.stride.some((s) => s < 0)) {
    throw new CheckpointError(
      file,
      `tensor '${name}' (shape [${t.shape}], stride [${t.stride}], offset ${t.offset}) reads past its storage '${st.key}' of ${available} elements: the file is truncated or corrupt`,
    );
  }
  const get = reader(st.dtype, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), littleEndian);
  const nd = t.shape.length;
  let contiguous = true;
  for (let d = nd - 1, expect = 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) contiguous = false;
    expect *= t.shape[d];
  }
  if (contiguous) {
    if (st.dtype === 'f32' && littleEndian && (bytes.byteOffset + 4 * t.offset) % 4 === 0) {
      out.set(new Float32Array(bytes.buffer, bytes.byteOffset + 4 * t.offset, n));
    } else {
      for (let i = 0; i < n; i++) out[i] = get(t.offset + i);
    }
    return out;
  }
  // Strided walk in row-major order.
  const idx = new Array<number>(nd).fill(0);
  let src = t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = get(src);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

function asIntList(v: unknown): number[] | undefined {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  if (v instanceof PyObject && Array.isArray(v.args[0])) return asIntList(v.args[0]); // torch.Size((...))
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyObject) return String(v.cls);
  if (v instanceof PyGlobal) return String(v);
  if (v instanceof TorchTensor) return 'tensor';
  return typeof v;
}

function hasTensors(v: unknown): v is Map<unknown, unknown> {
  if (!(v instanceof Map)) return false;
  for (const x of v.values()) if (x instanceof TorchTensor) return true;
  return false;
}

export interface TorchCheckpoint {
  /** The state dict's tensors, float32, in the file's order and PyTorch layouts. */
  tensors: StateDict;
  /** Top-level numbers and strings beside a wrapped state dict (e.g. `epoch`). */
  extra: Record<string, unknown>;
  /** Names of non-tensor entries of the state dict (and non-scalar wrapper entries such as `optimizer`) left out. */
  skipped: string[];
}

function legacyHint(file: string, what: string): CheckpointError {
  return new CheckpointError(
    file,
    `${what}; ssl3d reads only the zip format written by torch >= 1.6. Re-save it with torch >= 1.6: ` +
      `python -c "import torch; torch.save(torch.load('IN', weights_only=False), 'OUT')"`,
  );
}

/** Parse `torch.save` zip bytes. `file` is only used in messages. */
export function decodeTorchCheckpoint(buf: Uint8Array, file = '<memory>'): TorchCheckpoint {
  if (!isZip(buf)) {
    if (buf.length >= 2 && buf[0] === 0x80 && buf[1] >= 2 && buf[1] <= 5) throw legacyHint(file, 'this is a legacy (pre-1.6) torch.save pickle file');
    if (buf.length >= 262 && Buffer.from(buf.subarray(257, 262)).toString('latin1') === 'ustar') throw legacyHint(file, 'this is a legacy tar-format torch.save file');
    throw new CheckpointError(file, 'not a PyTorch checkpoint: a torch.save file (torch >= 1.6) is a zip archive, and this file does not start with a zip header');
  }
  let zip: ZipReader;
  try {
    zip = new ZipReader(buf);
  } catch (e) {
    if (e instanceof ZipFormatError) throw new CheckpointError(file, `truncated or corrupt checkpoint: ${e.message}`);
    throw e;
  }
  const pkls = [...zip.entries.keys()].filter((k) => k === 'data.pkl' || /^[^/]*\/data\.pkl$/.test(k));
  if (pkls.length === 0) {
    throw new CheckpointError(file, `no data.pkl in the zip (entries: ${[...zip.entries.keys()].slice(0, 5).join(', ')}${zip.entries.size > 5 ? ', ...' : ''}): not a torch.save checkpoint`);
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof ZipFormatError) throw new CheckpointError(file, `truncated or corrupt checkpoint: ${e.message}`);
      if (e instanceof PickleError) throw new CheckpointError(file, `cannot read ${pkls[0]}: ${e.message}`);
      throw e;
    }
  };
  let littleEndian = true;
  if (zip.entries.has(prefix + 'byteorder')) {
    const bo = wrap(() => Buffer.from(zip.read(prefix + 'byteorder')).toString('latin1').trim());
    if (bo === 'big') littleEndian = false;
    else if (bo !== 'little') throw new CheckpointError(file, `unknown byteorder '${bo}'`);
  }
  const loadStorage = (key: string): Uint8Array => {
    const name = `${prefix}data/${key}`;
    if (!zip.entries.has(name)) throw new CheckpointError(file, `storage '${name}' is missing from the zip (truncated or corrupt checkpoint)`);
    return wrap(() => zip.read(name));
  };

  const storages = new Map<string, Storage>();
  const rebuildTensor: PyCallable = (a) => {
    const [storage, offset, size, stride] = a;
    const shape = asIntList(size);
    const strides = asIntList(stride);
    if (!(storage instanceof Storage) || typeof offset !== 'number' || !shape || !strides || shape.length !== strides.length) {
      throw new CheckpointError(file, 'malformed _rebuild_tensor_v2 call in data.pkl');
    }
    return new TorchTensor(storage, offset, shape, strides);
  };
  const findClass = (module: string, name: string): PyCallable | undefined => {
    const full = `${module}.${name}`;
    switch (full) {
      case 'collections.OrderedDict':
      case 'builtins.dict':
      case '__builtin__.dict':
        return () => new Map();
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor':
        return rebuildTensor;
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return (a) => a[0];
      case 'torch._tensor._rebuild_from_type_v2':
      case 'torch._tensor._rebuild_from_type':
        return (a) => (typeof a[0] === 'function' ? (a[0] as PyCallable)(Array.isArray(a[2]) ? a[2] : []) : new PyObject(a[0], a));
      case 'torch.Size':
        return (a) => (Array.isArray(a[0]) ? a[0] : []);
    }
    return undefined; // opaque (torch.*Storage types stay PyGlobals for persistentLoad)
  };
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new CheckpointError(file, `unsupported persistent id in data.pkl: ${JSON.stringify(describe(pid))}`);
    const [, type, key, , numel] = pid;
    const typeName = type instanceof PyGlobal ? type.name : String(type);
    const k = String(key);
    let st = storages.get(k);
    if (!st) {
      st = new Storage(STORAGE_DTYPES[typeName], typeName, k, typeof numel === 'number' ? numel : -1, loadStorage);
      storages.set(k, st);
    }
    return st;
  };

  const pkl = wrap(() => zip.read(pkls[0]));
  const root = wrap(() => unpickle(pkl, { findClass, persistentLoad }));

  let sd: Map<unknown, unknown>;
  const extra: Record<string, unknown> = {};
  const skipped: string[] = [];
  if (root instanceof Map && !hasTensors(root)) {
    const key = ['state_dict', 'model_state_dict', 'model', 'net', 'network'].find((k) => hasTensors(root.get(k)));
    if (key === undefined) throw new CheckpointError(file, `no state dict found: the top-level dict (keys: ${[...root.keys()].map(String).slice(0, 8).join(', ')}) holds no tensors and no 'state_dict' of tensors`);
    sd = root.get(key) as Map<unknown, unknown>;
    for (const [k, v] of root) {
      if (k === key) continue;
      if (typeof v === 'number' || typeof v === 'string') extra[String(k)] = v;
      else skipped.push(String(k));
    }
  } else if (root instanceof Map) {
    sd = root;
  } else {
    throw new CheckpointError(file, `no state dict found: the checkpoint holds a ${describe(root)}, not a dict of tensors`);
  }
  const tensors: StateDict = new Map();
  for (const [k, v] of sd) {
    const name = String(k);
    if (v instanceof TorchTensor) {
      const data = materialise(v, name, file, littleEndian);
      tensors.set(name, { shape: [...v.shape], data });
    } else skipped.push(name);
  }
  return { tensors, extra, skipped };
}

/** Read a `torch.save` checkpoint (`.pt`/`.pth`, zip format) as float32 tensors plus scalar extras. */
export async function loadTorchCheckpoint(file: string): Promise<TorchCheckpoint> {
  let buf: Uint8Array;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    throw new CheckpointError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  return decodeTorchCheckpoint(buf, file);
}
