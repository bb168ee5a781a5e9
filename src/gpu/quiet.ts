/**
 * Keeping the driver's own messages off the user's terminal.
 *
 * Dawn writes some warnings straight to the process's stderr from native code (on Mesa's lavapipe,
 * "maxDynamicUniformBuffersPerPipelineLayout artificially reduced…" twice for every adapter
 * request, by dlprof's Dawn and by the one inside onnxruntime's WebGPU execution provider). They say nothing a dlprof user can act on, so by default they are discarded: file
 * descriptor 2 points at /dev/null for the duration of the native call, and at the original
 * stderr again afterwards. `--verbose`, or `DEBUG=dlprof*` (any pattern that matches `dlprof`),
 * leaves them on.
 *
 * Node has no dup2, so the original stderr is reopened through /proc/self/fd (Linux) or /dev/fd;
 * that is only done where reopening is equivalent: a terminal, a pipe, a character device, or a
 * file only stderr writes to (reopened for appending). Where stderr shares a file with stdout
 * (`>log 2>&1`: one offset for both) or is a socket (a Node parent's 'pipe' is a socketpair,
 * which cannot be reopened), or on a system without those paths, the messages are left alone.
 */
import fs from 'node:fs';

let verbose = false;

/** Shows the driver's messages from now on (--verbose). */
export function showDriverMessages(on: boolean): void {
  verbose = on;
}

/** Whether the driver's messages are to be shown (--verbose, or DEBUG naming dlprof). */
export function driverMessagesShown(): boolean {
  return verbose || debugNamesDlprof();
}

/** Whether DEBUG (the `debug` package's convention: comma- or space-separated globs, `-` excludes) names dlprof. */
export function debugNamesDlprof(debug = process.env.DEBUG ?? ''): boolean {
  let on = false;
  for (const raw of debug.split(/[\s,]+/).filter(Boolean)) {
    const exclude = raw.startsWith('-');
    const glob = exclude ? raw.slice(1) : raw;
    const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    if (re.test('dlprof') || re.test('dlprof:gpu')) on = !exclude;
  }
  return on;
}

function sameFile(st: fs.Stats, fd: number): boolean {
  try {
    const o = fs.fstatSync(fd);
    return o.dev === st.dev && o.ino === st.ino;
  } catch {
    return false;
  }
}

/** The path that reopens our stderr, where reopening it gives the same stream; undefined otherwise. */
function reopenablePath(): string | undefined {
  try {
    const st = fs.fstatSync(2);
    // A file only stderr writes to ends where stderr's offset is: appending is the same. One that
    // stdout shares (`>log 2>&1`) has one offset for both, which a reopened stderr would not.
    const file = st.isFile() && !sameFile(st, 1);
    if (!(st.isCharacterDevice() || st.isFIFO() || file)) return undefined;
    for (const p of ['/proc/self/fd/2', '/dev/fd/2']) if (fs.existsSync(p)) return p;
  } catch {
    // stderr closed, or no fstat: nothing to hide from.
  }
  return undefined;
}

/**
 * Points descriptor 2 at /dev/null; returns what puts the original stream back, or undefined when
 * nothing was done (the user asked for the messages, or stderr cannot be reopened).
 */
function discardStderr(): (() => void) | undefined {
  if (verbose || debugNamesDlprof()) return undefined;
  const self = reopenablePath();
  if (!self) return undefined;
  const dir = self.slice(0, self.lastIndexOf('/'));
  let saved: number;
  try {
    saved = fs.openSync(self, 'a');
  } catch {
    return undefined;
  }
  // Descriptor 2 is closed, then the lowest free one, which open() takes: /dev/null, and at the end
  // the original stream again. Nothing else opens files in between: both steps run on the main
  // thread, synchronously, before and after the native work.
  const restore = (): void => {
    const back = fs.openSync(`${dir}/${saved}`, 'a');
    if (back !== 2) fs.closeSync(back);
    fs.closeSync(saved);
  };
  fs.closeSync(2);
  const nul = fs.openSync('/dev/null', 'a');
  if (nul !== 2) {
    // 0 or 1 was closed: give 2 back and leave stderr as it is.
    fs.closeSync(nul);
    restore();
    return undefined;
  }
  return () => {
    fs.closeSync(2);
    restore();
  };
}

/**
 * Runs a synchronous native call with the process's stderr discarded, unless the user asked for
 * the driver's messages. The call must not write anything of dlprof's own to stderr.
 */
export function quietly<T>(call: () => T): T {
  const restore = discardStderr();
  try {
    return call();
  } finally {
    restore?.();
  }
}
