/**
 * The direction of dlprof's data flow, enforced (docs/architecture.md, The pipeline):
 * onnx → ir → kernels → suite → gpu → bench → store → analysis → report → cli → commands.
 * A stage imports only from the stages before it (and src/util, which imports none of them);
 * nothing imports in a cycle. `npm test` runs this first.
 */
const STAGES = ['onnx', 'ir', 'kernels', 'suite', 'gpu', 'bench', 'store', 'analysis', 'report', 'cli', 'commands'];

const forward = STAGES.slice(0, -1).map((stage, i) => ({
  name: `${stage}-imports-no-later-stage`,
  comment: `src/${stage} runs before ${STAGES.slice(i + 1).join(', ')}: it must not import them`,
  severity: 'error',
  from: { path: `^src/${stage}/` },
  to: { path: `^src/(${STAGES.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...forward,
    {
      name: 'util-imports-no-stage',
      comment: 'src/util is shared by every stage, so it imports none of them',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: `^src/(${STAGES.join('|')})/` },
    },
    {
      name: 'bench-uses-the-executor-seam',
      comment: 'src/bench talks to a device through src/gpu/executor.ts only (the Dawn implementation is src/gpu/run.ts), so another executor can stand behind it',
      severity: 'error',
      from: { path: '^src/bench/' },
      to: { path: '^src/gpu/', pathNot: '^src/gpu/(executor|quiet)\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'modules that import each other (directly or through others) cannot be understood or tested apart',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
