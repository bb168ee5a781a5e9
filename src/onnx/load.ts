/**
 * Reading an ONNX file: the first stage of the pipeline. Validates the file as untrusted input,
 * decodes it (weights stay views into the file buffer), resolves external-data locations safely,
 * and collects the model-level facts later stages need. No shape work happens here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DlprofError, EXIT, printable } from '../util/errors.js';
import { decodeModel, type FunctionProto, type GraphProto, type ModelProto, type TensorProto } from './proto.js';
import type { ExternalReader } from './tensor.js';

export interface Diagnostic {
  level: 'warning' | 'error';
  code: string;
  message: string;
  node?: string;
}

export interface LoadedModel {
  path: string;
  /** File name without extension, or the graph name. */
  name: string;
  fileBytes: number;
  irVersion: number;
  producer: string;
  /** Imported opsets by domain ('' is the default ONNX domain). */
  opsets: Map<string, number>;
  graph: GraphProto;
  /** Model-local functions by `domain:name`. */
  functions: Map<string, FunctionProto>;
  /** Reads an external-data tensor's bytes (undefined when its side file is missing). */
  external: ExternalReader;
  diagnostics: Diagnostic[];
}

/** Any tensor larger than this is an absurd declaration, not a model (1 TiB). */
export const MAX_TENSOR_BYTES = 2 ** 40;

export function normalizeDomain(d: string | null | undefined): string {
  return !d || d === 'ai.onnx' ? '' : d;
}

function inputError(file: string, what: string, code: string, suggestions: string[] = []): DlprofError {
  return new DlprofError(`${file}: ${what}`, code, EXIT.input, suggestions);
}

export function loadModel(file: string): LoadedModel {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw inputError(file, 'no such file', 'E_FILE_NOT_FOUND', ['Check the path; models are ONNX files (.onnx).']);
  }
  if (st.isDirectory()) throw inputError(file, 'is a directory, not an ONNX file', 'E_NOT_A_FILE', ['Pass the .onnx file inside it.']);
  if (!st.isFile()) throw inputError(file, 'is not a regular file', 'E_NOT_A_FILE');
  if (st.size === 0) throw inputError(file, 'is empty (0 bytes)', 'E_EMPTY_FILE');
  if (st.size > 2 ** 31 - 1) {
    throw inputError(file, `is ${(st.size / 2 ** 30).toFixed(1)} GiB; protobuf files are limited to 2 GiB`, 'E_TOO_LARGE',
      ['Save the weights as external data (onnx.save_model(..., save_as_external_data=True)).']);
  }
  return parseModel(fs.readFileSync(file), file);
}

/** Decodes a model from bytes already in memory (`file` names it in messages and locates external data). */
export function parseModel(buf: Uint8Array, file: string): LoadedModel {
  let model: ModelProto;
  try {
    model = decodeModel(buf);
  } catch (e) {
    throw inputError(file, `not a valid ONNX protobuf (${(e as Error).message}); the file may be truncated or not an ONNX model`, 'E_DECODE');
  }
  return fromProto(model, file, buf.byteLength);
}

/** Checks the decoded message is an ONNX model and gathers its model-level facts. */
export function fromProto(model: ModelProto, file: string, fileBytes: number): LoadedModel {
  const irVersion = Number(model.irVersion ?? 0);
  if (!model.graph || irVersion <= 0) {
    throw inputError(file, `is a protobuf but not an ONNX model (${!model.graph ? 'no graph' : 'no ir_version'})`, 'E_NOT_ONNX');
  }
  if (irVersion < 3) {
    throw inputError(file, `has IR version ${irVersion}; dlprof reads IR version 3 and later`, 'E_OLD_IR',
      ['Convert it with onnx.version_converter to a recent opset.']);
  }
  const diagnostics: Diagnostic[] = [];
  const opsets = new Map<string, number>();
  for (const o of model.opsetImport ?? []) opsets.set(normalizeDomain(o.domain), Number(o.version ?? 0));
  if (!opsets.has('')) {
    diagnostics.push({ level: 'warning', code: 'W_NO_OPSET', message: 'model imports no default-domain opset; assuming opset 1' });
    opsets.set('', 1);
  }
  const functions = new Map<string, FunctionProto>();
  for (const f of model.functions ?? []) functions.set(`${normalizeDomain(f.domain)}:${f.name}`, f);

  const dir = path.dirname(path.resolve(file));
  const external = makeExternalReader(file, dir, diagnostics);
  checkExternalLocations(model.graph, file, dir, diagnostics);
  const graphName = model.graph.name ?? '';
  return {
    path: file,
    name: path.basename(file).replace(/\.onnx$/i, '') || graphName,
    fileBytes,
    irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets,
    graph: model.graph,
    functions,
    external,
    diagnostics,
  };
}

function externalInfo(t: TensorProto): { location?: string; offset: number; length?: number } {
  const info: { location?: string; offset: number; length?: number } = { offset: 0 };
  for (const kv of t.externalData ?? []) {
    if (kv.key === 'location') info.location = kv.value ?? undefined;
    else if (kv.key === 'offset') info.offset = Number(kv.value);
    else if (kv.key === 'length') info.length = Number(kv.value);
  }
  return info;
}

/**
 * Refuses external-data locations that are absolute or resolve (symlinks followed) outside the
 * model's directory: a model file must not make dlprof read arbitrary files.
 */
function checkExternalLocations(g: GraphProto, file: string, dir: string, diags: Diagnostic[]): void {
  const seen = new Set<string>();
  const visit = (t: TensorProto): void => {
    if (t.dataLocation !== 1) return;
    const { location } = externalInfo(t);
    const name = printable(t.name ?? '');
    if (!location) throw inputError(file, `tensor '${name}' is external but names no location`, 'E_EXTERNAL_DATA');
    if (seen.has(location)) return;
    seen.add(location);
    const resolved = path.resolve(dir, location);
    if (path.isAbsolute(location) || !isInside(dir, resolved)) {
      throw inputError(file, `tensor '${name}': external data location '${printable(location)}' is outside the model's directory; refused`,
        'E_EXTERNAL_DATA_PATH', ['External data files must sit in the model directory or below it.']);
    }
    if (fs.existsSync(resolved)) {
      const real = fs.realpathSync(resolved);
      if (!isInside(fs.realpathSync(dir), real)) {
        throw inputError(file, `tensor '${name}': external data '${printable(location)}' is a link that leaves the model's directory; refused`,
          'E_EXTERNAL_DATA_PATH');
      }
    } else {
      diags.push({ level: 'warning', code: 'W_EXTERNAL_MISSING',
        message: `external data file '${printable(location)}' is missing; shapes are still analyzed, weight statistics are not` });
    }
  };
  forEachTensor(g, visit);
}

function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Visits initializers, sparse initializers and Constant tensors of a graph and its subgraphs. */
export function forEachTensor(g: GraphProto, f: (t: TensorProto) => void): void {
  for (const t of g.initializer ?? []) f(t);
  for (const s of g.sparseInitializer ?? []) { if (s.values) f(s.values); if (s.indices) f(s.indices); }
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) f(a.t);
      for (const t of a.tensors ?? []) f(t);
      if (a.g) forEachTensor(a.g, f);
      for (const sg of a.graphs ?? []) forEachTensor(sg, f);
    }
  }
}

function makeExternalReader(file: string, dir: string, diags: Diagnostic[]): ExternalReader {
  const warned = new Set<string>();
  return (t) => {
    const { location, offset, length } = externalInfo(t);
    if (!location) return undefined;
    const p = path.resolve(dir, location);
    try {
      const fd = fs.openSync(p, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const len = length ?? size - offset;
        if (offset < 0 || len < 0 || offset + len > size) throw new Error(`range ${offset}+${len} beyond its ${size} bytes`);
        const out = Buffer.allocUnsafe(len);
        fs.readSync(fd, out, 0, len, offset);
        return out;
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      if (!warned.has(location)) {
        warned.add(location);
        diags.push({ level: 'warning', code: 'W_EXTERNAL_UNREADABLE',
          message: `${file}: cannot read external data '${printable(location)}': ${(e as Error).message}` });
      }
      return undefined;
    }
  };
}
