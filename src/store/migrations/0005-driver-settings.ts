import type { Migration } from './migration.js';

/**
 * A software adapter's driver settings (lavapipe's worker threads, `LP_NUM_THREADS=0`) are part of
 * the machine's identity (gpu/device.ts fingerprint): recorded with the machine. Machines stored
 * before had none recorded ('').
 */
export const m0005: Migration = {
  version: 5,
  name: 'driver-settings',
  up: `ALTER TABLE machine ADD COLUMN driver_settings TEXT NOT NULL DEFAULT '';`,
};
