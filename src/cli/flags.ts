/**
 * Flags shared by every command that takes models: --dim, --shape, --value and --defaults.
 *
 * Repeatable flags are non-greedy: each takes exactly one value, so flags may come before or after
 * the model paths (`--dim batch=1 model.onnx` and `model.onnx --dim batch=1` both work).
 */
import { Flags } from '@oclif/core';
import { MAX_VALUE_ELEMENTS, type Bindings } from '../onnx/shapes/engine.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';

export const modelFlags = {
  dim: Flags.string({
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'NAME=N',
    description: 'Bind a symbolic dimension of the model inputs, e.g. --dim batch=1 --dim sequence_length=128 (repeatable).',
  }),
  shape: Flags.string({
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'INPUT=AxBxC',
    description: "Set a whole input's shape, e.g. --shape input=1x3x224x224; needed where a dimension has no name (repeatable).",
  }),
  value: Flags.string({
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'INPUT=V',
    description: "Bind an input's value: a scalar (--value sample_rate=16000, --value flag=true) or a small 1-D tensor (--value ids=1,2,3). "
      + 'Conditions and loop counts computed from it fold, so the branch it selects is analyzed; the value is fed to the end-to-end runs (repeatable).',
  }),
  defaults: Flags.boolean({
    description: 'Set every symbolic input dimension that --dim/--shape leave unbound to 1 (e.g. batch=1); the output says which.',
  }),
};

function splitAssign(flag: string, raw: string): [string, string] {
  const at = raw.lastIndexOf('=');
  if (at <= 0 || at === raw.length - 1) {
    throw new DlprofError(`--${flag} '${raw}': expected NAME=VALUE`, 'E_BAD_FLAG', EXIT.usage,
      [{ dim: 'Example: --dim batch=1', shape: 'Example: --shape input=1x3x224x224', value: 'Example: --value sample_rate=16000' }[flag] ?? '']);
  }
  return [raw.slice(0, at), raw.slice(at + 1)];
}

function parseDim(flag: string, raw: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new DlprofError(`--${flag} '${raw}': '${text}' is not a non-negative integer`, 'E_BAD_FLAG', EXIT.usage);
  }
  return Number(text);
}

/** One element of a --value: a number, or true/false for bool inputs. */
function parseElement(raw: string, text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'true') return 1;
  if (t === 'false') return 0;
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) throw new DlprofError(`--value '${raw}': '${text}' is not a number`, 'E_BAD_FLAG', EXIT.usage, ['Example: --value sample_rate=16000, --value ids=1,2,3']);
  return v;
}

export interface ModelFlagValues {
  dim?: string[];
  shape?: string[];
  value?: string[];
  defaults?: boolean;
}

/** The bindings the model flags ask for. */
export function modelBindings(flags: ModelFlagValues): Bindings {
  const b = parseBindings(flags.dim, flags.shape);
  for (const raw of flags.value ?? []) {
    const [name, v] = splitAssign('value', raw);
    const data = v.split(',').map((x) => parseElement(raw, x));
    if (data.length > MAX_VALUE_ELEMENTS) throw new DlprofError(`--value '${printable(name)}': ${data.length} elements; at most ${MAX_VALUE_ELEMENTS}`, 'E_BAD_FLAG', EXIT.usage);
    (b.values ??= new Map()).set(name, data);
  }
  if (flags.defaults) b.defaults = true;
  return b;
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
