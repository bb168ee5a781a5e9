/**
 * User-facing errors. Every mistake a user can make (bad file, bad flag, unbound dimension, …)
 * is a DlprofError with a stable `code`, an exit status from EXIT, and suggestions; commands turn
 * it into oclif's `this.error(…)` so it prints one line (or a JSON `error` object under --json)
 * and never a stack trace. The exit codes are documented in the README.
 */
export const EXIT = {
  /** Unexpected internal failure (a bug): the only case that prints a stack trace. */
  internal: 1,
  /** Bad command-line usage: unknown flag, malformed --dim/--shape value. */
  usage: 2,
  /** The model (or another input file) cannot be read or is not a valid ONNX model. */
  input: 3,
  /** The model is valid but cannot be analyzed as asked: unbound dimension, shape error, limits. */
  model: 4,
  /** No usable WebGPU adapter / device lost. */
  device: 5,
  /** The results database cannot be used (newer schema, corrupt, locked). */
  store: 6,
  /** analyze: the model's outputs on dlprof's kernels differ from onnxruntime's (a kernel is wrong). */
  mismatch: 7,
  /** compare --fail-on regression: a layer (or model) is slower beyond the threshold, its confidence interval excluding no change. */
  regression: 8,
  /** Interrupted (Ctrl-C); finished measurements are kept. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class DlprofError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exit: ExitCode = EXIT.input,
    readonly suggestions: string[] = [],
  ) {
    super(message);
    this.name = 'DlprofError';
  }
}

/**
 * Makes text taken from a model (node, tensor or graph names, doc strings) safe to print on a
 * terminal: control characters (ANSI escapes, newlines, NUL) become visible \\xNN / \\uNNNN escapes,
 * and very long names are shortened. Node names are untrusted input.
 */
export function printable(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  let out = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
  if (out.length > max) out = `${out.slice(0, max - 1)}…`;
  return out;
}
