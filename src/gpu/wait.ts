/**
 * Waiting for the device without holding a host core.
 *
 * Dawn's Node bindings settle a pending promise (onSubmittedWorkDone, mapAsync, a pipeline made
 * asynchronously) by calling the instance's ProcessEvents from `setImmediate`, again and again, for
 * as long as any promise is pending: the JavaScript thread runs at 100 % for the whole wait. On a
 * GPU that costs a host core. On a software adapter (lavapipe, SwiftShader) the "device" is the
 * host's CPU: the spinning thread takes a core from the adapter's own compiler and from
 * onnxruntime's, which compile beside it (on the 2-core reference host, resnet-tiny's analysis
 * spent 21 of its 24 s of checks with both cores busy, one of them spinning).
 *
 * `Waiter.wait` keeps that loop turning but, once a wait has lasted `SPIN_MS`, sleeps the thread
 * between turns (Atomics.wait), for a twentieth of the time waited so far and at most `MAX_SLEEP_MS`.
 * A wait therefore ends at most 5 % (and 1 ms) after the device finished. Nothing the harness
 * times depends on that: it reads the device's timestamps. The runner sleeps only on a software
 * adapter with timestamps (run.ts); on a GPU, whose waits are µs and whose host has cores to
 * spare, and on an adapter timed by the wall clock, it waits as Dawn does.
 */
import { performance } from 'node:perf_hooks';

const SPIN_MS = 2;
const MAX_SLEEP_MS = 1;

export class Waiter {
  private pending = 0;
  private since = 0;
  private ticking = false;
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));

  /** @param sleeps false: wait as Dawn does (spinning), for devices whose waits are short and timed by the wall clock. */
  constructor(readonly sleeps: boolean) {}

  /** `p`, settled; while it is pending, the thread sleeps between Dawn's event-loop turns (see above). */
  async wait<T>(p: Promise<T>): Promise<T> {
    if (!this.sleeps) return p;
    if (this.pending++ === 0) {
      this.since = performance.now();
      if (!this.ticking) {
        this.ticking = true;
        setImmediate(this.tick);
      }
    }
    try {
      return await p;
    } finally {
      this.pending--;
    }
  }

  private readonly tick = (): void => {
    if (this.pending === 0) {
      this.ticking = false;
      return;
    }
    const waited = performance.now() - this.since;
    if (waited > SPIN_MS) Atomics.wait(this.cell, 0, 0, Math.min(MAX_SLEEP_MS, waited / 20));
    setImmediate(this.tick);
  };
}
