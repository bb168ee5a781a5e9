import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLargeModel, writeLargeModel } from '../../models/large.js';
import { decodeModel } from '../../src/onnx/proto.js';

describe('large model', () => {
  it('reaches the target size, and the streamed file decodes like the in-memory encoding', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlprof-large-'));
    try {
      const file = path.join(dir, 'large.onnx');
      const target = 3 * 2 ** 20;
      const written = writeLargeModel(file, target, { width: 256 });
      expect(written).toBe(fs.statSync(file).size);
      expect(written).toBeGreaterThanOrEqual(target);
      const m = buildLargeModel(target, { width: 256 });
      const streamed = decodeModel(fs.readFileSync(file));
      const inMemory = decodeModel(m.graph.toBytes(m.opsets));
      expect(streamed.toJSON()).toEqual(inMemory.toJSON());
      expect(streamed.graph?.initializer?.length).toBe(2 * Math.ceil(target / ((256 * 256 + 256) * 4)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
