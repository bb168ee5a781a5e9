// A dlprof process writing to a store as `bench` does (tests of the fleet store): the machine row, the
// layers and a model, then `count` measurements, each committed on its own; after each commit it
// prints `committed <i>` (and flushes), so a test that kills it knows what it had committed.
// Usage: node pg-writer.mjs URL WRITER COUNT
import { Store } from '../../dist/src/store/db.js';

const [url, writer, count] = process.argv.slice(2);
const store = Store.open(url);
const fp = { adapterVendor: 'mesa', adapterArchitecture: 'software', adapterDevice: 'llvmpipe', adapterDescription: 'llvmpipe: test',
  backend: 'vulkan', cpu: 'test ×2', os: 'Linux', driverSettings: '', dlprofVersion: '0.1.0' };
const layers = Array.from({ length: 8 }, (_, i) => ({ key: `shared-layer-${i}`, op: 'Relu', attrs: {}, inputs: [], outputs: [], weights: [], flops: i, bytes: 8 * i, params: 0 }));
const runId = `run-${writer}`;
for (let i = 0; i < Number(count); i++) {
  // Every writer races on the same machine, layers and model rows as it goes.
  const machineId = store.machineId(fp);
  if (i % 10 === 0) {
    store.upsertLayers(layers);
    store.upsertModel({ path: '/models/shared.onnx', name: 'shared', fileBytes: 1234, layers: layers.map((l, k) => ({ key: l.key, count: 1, firstPosition: k })) });
  }
  store.insertMeasurement({ runId, machineId, layerKey: layers[i % layers.length].key, variant: `w${writer}-${i}`, conditions: 'inference', status: 'completed',
    medianMs: 0.01 * (i + 1), samples: 3, samplesMs: [0.01 * (i + 1), 0.01 * (i + 1), 0.01 * (i + 1)] });
  process.stdout.write(`committed ${i}\n`);
}
store.close();
