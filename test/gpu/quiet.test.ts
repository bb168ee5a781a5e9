import { describe, expect, it } from 'vitest';
import { debugNamesDlprof } from '../../src/gpu/quiet.js';

describe('DEBUG names dlprof', () => {
  it.each([
    ['dlprof*', true], ['dlprof', true], ['*', true], ['dlprof:*', true], ['express,dlprof*', true], ['other other2', false],
    ['', false], ['*,-dlprof*', false], ['dl*', true],
  ])('DEBUG=%j → %s', (debug, on) => {
    expect(debugNamesDlprof(debug)).toBe(on);
  });
});
