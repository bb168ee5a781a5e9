import type { AttrValue } from './types.js';
import { tensorDims, tensorDtype, decodeTensor } from '../tensor.js';
import { AttributeType, type AttributeProto, type GraphProto, type TensorProto } from '../proto.js';
import type { AttrReader } from './types.js';

const utf8 = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('utf8') : '');

/** The attribute's type, inferred from which field is set when `type` is missing (old exporters). */
function attrType(a: AttributeProto): number {
  if (a.type) return a.type;
  if (a.ints?.length) return AttributeType.INTS;
  if (a.floats?.length) return AttributeType.FLOATS;
  if (a.strings?.length) return AttributeType.STRINGS;
  if (a.t) return AttributeType.TENSOR;
  if (a.g) return AttributeType.GRAPH;
  if (a.s?.length) return AttributeType.STRING;
  if (a.f != null && a.f !== 0) return AttributeType.FLOAT;
  return AttributeType.INT;
}

function tensorSummary(t: TensorProto): AttrValue {
  const v = decodeTensor(t, undefined, 16);
  const summary: AttrValue = { kind: 'tensor', dtype: tensorDtype(t) ?? 'float32', shape: tensorDims(t) };
  if (v) summary.values = v.data;
  return summary;
}

/** An attribute as a plain, JSON-able value. */
export function attrValue(a: AttributeProto): AttrValue {
  switch (attrType(a)) {
    case AttributeType.FLOAT: return a.f ?? 0;
    case AttributeType.INT: return Number(a.i ?? 0);
    case AttributeType.STRING: return utf8(a.s);
    case AttributeType.FLOATS: return [...(a.floats ?? [])];
    case AttributeType.INTS: return (a.ints ?? []).map(Number);
    case AttributeType.STRINGS: return (a.strings ?? []).map(utf8);
    case AttributeType.TENSOR: return a.t ? tensorSummary(a.t) : '';
    case AttributeType.GRAPH: return { kind: 'graph', name: a.g?.name ?? '', nodes: a.g?.node?.length ?? 0 };
    default: return `<${AttributeType[attrType(a)] ?? 'unknown'}>`;
  }
}

/**
 * An AttrReader over a node's attributes that records, in `used`, every value read (with the
 * default filled in when absent): the basis of normalized attributes and canonical layer keys.
 */
export function makeAttrReader(attrs: readonly AttributeProto[], used: Map<string, AttrValue>, fail: (m: string) => never): AttrReader {
  const byName = new Map<string, AttributeProto>();
  for (const a of attrs) if (a.name) byName.set(a.name, a);
  const get = <T extends AttrValue>(name: string, def: T | undefined, check: (v: AttrValue) => boolean): T => {
    const a = byName.get(name);
    let v: AttrValue | undefined = a ? attrValue(a) : def;
    if (a && !check(v as AttrValue)) fail(`attribute '${name}' has the wrong type`);
    if (v === undefined) fail(`required attribute '${name}' is missing`);
    used.set(name, v as AttrValue);
    return v as T;
  };
  const isNum = (v: AttrValue): boolean => typeof v === 'number';
  const isNums = (v: AttrValue): boolean => Array.isArray(v) && v.every((x) => typeof x === 'number');
  return {
    has: (name) => byName.has(name),
    int: (name, def) => get<number>(name, def, isNum),
    ints: (name, def) => get<number[]>(name, def, isNums),
    // FLOAT attributes are float32 in a model: an explicit epsilon=1e-5 decodes as 9.99999974e-6.
    // Rounding defaults the same way keeps "explicit default" and "absent" the same layer.
    float: (name, def) => get<number>(name, def === undefined ? def : Math.fround(def), isNum),
    floats: (name, def) => get<number[]>(name, def?.map(Math.fround), isNums),
    string: (name, def) => get<string>(name, def, (v) => typeof v === 'string'),
    strings: (name, def) => get<string[]>(name, def, (v) => Array.isArray(v)),
    tensor: (name) => {
      const a = byName.get(name);
      if (a?.t) used.set(name, tensorSummary(a.t));
      return a?.t ?? undefined;
    },
    graph: (name: string): GraphProto | undefined => byName.get(name)?.g ?? undefined,
  };
}
