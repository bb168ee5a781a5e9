/**
 * Numbered schema migrations (docs/architecture.md, The store): each runs in a transaction and stamps
 * PRAGMA user_version. Append only; never edit a released migration.
 */
import { m0001 } from './0001-initial.js';
import { m0002 } from './0002-probe.js';
import { m0003 } from './0003-conditions.js';
import { m0004 } from './0004-pass-overhead.js';
import { m0005 } from './0005-driver-settings.js';
import { m0006 } from './0006-inference-rounds.js';
import { m0007 } from './0007-kernel-identity.js';

export interface Migration {
  version: number;
  name: string;
  up: string;
}

export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007];
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
