/**
 * onnxruntime's framework baseline in a process of its own (ort.ts startOrtFramework): the parent
 * sends `start` (the model, its inputs, the options), this process creates the session and warms
 * it up (its programs compile) and answers `ready`; on `measure` it takes the profiled and timed
 * runs and answers with them. It ends when the parent goes.
 */
import { ortFrameworkHere, type ChildReply, type ChildRequest } from './ort.js';

let run: ReturnType<typeof ortFrameworkHere> | undefined;
const reply = (m: ChildReply): void => { process.send!(m); };
const failure = (e: unknown): ChildReply => ({ error: (e as Error).message ?? String(e) });

// Ended by the parent (an analysis that stopped early) or left by it: the profile folder goes too.
const end = (): void => {
  run?.discard();
  process.exit(0);
};
process.on('disconnect', end);
process.on('SIGTERM', end);
process.on('message', (m: ChildRequest) => {
  if ('start' in m) {
    run = ortFrameworkHere(m.start.file, new Map(m.start.inputs), m.start.opts);
    run.ready.then(() => reply({ ready: true }), (e) => reply(failure(e)));
  } else if (run) {
    run.measure().then((measured) => reply({ measured }), (e) => reply(failure(e)));
  } else reply({ error: 'measure before start' });
});
