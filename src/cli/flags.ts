/** Flags shared by every command that takes models: --dim and --shape. */
import { Flags } from '@oclif/core';
import type { Bindings } from '../onnx/shapes/engine.js';
import { DlprofError, EXIT } from '../util/errors.js';

export const modelFlags = {
  dim: Flags.string({
    multiple: true,
    helpValue: 'NAME=N',
    description: 'Bind a symbolic dimension of the model inputs, e.g. --dim batch=1 --dim sequence_length=128 (repeatable).',
  }),
  shape: Flags.string({
    multiple: true,
    helpValue: 'INPUT=AxBxC',
    description: "Set a whole input's shape, e.g. --shape input=1x3x224x224; needed where a dimension has no name (repeatable).",
  }),
};

function splitAssign(flag: string, raw: string): [string, string] {
  const at = raw.lastIndexOf('=');
  if (at <= 0 || at === raw.length - 1) {
    throw new DlprofError(`--${flag} '${raw}': expected NAME=VALUE`, 'E_BAD_FLAG', EXIT.usage,
      [flag === 'dim' ? 'Example: --dim batch=1' : 'Example: --shape input=1x3x224x224']);
  }
  return [raw.slice(0, at), raw.slice(at + 1)];
}

function parseDim(flag: string, raw: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new DlprofError(`--${flag} '${raw}': '${text}' is not a non-negative integer`, 'E_BAD_FLAG', EXIT.usage);
  }
  return Number(text);
}

export function parseBindings(dims: string[] = [], shapes: string[] = []): Bindings {
  const b: Bindings = { dims: new Map(), shapes: new Map() };
  for (const raw of dims) {
    const [name, v] = splitAssign('dim', raw);
    b.dims.set(name, parseDim('dim', raw, v));
  }
  for (const raw of shapes) {
    const [name, v] = splitAssign('shape', raw);
    b.shapes.set(name, v === 'scalar' ? [] : v.split(/[x×,]/).map((d) => parseDim('shape', raw, d.trim())));
  }
  return b;
}
