/** Vitest setup file: removes the test file's temp dir (tmp.ts) when the file is done. */
import { afterAll } from 'vitest';
import { removeTempDir } from './tmp.js';

afterAll(removeTempDir);
