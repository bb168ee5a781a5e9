import fs from 'node:fs';
import { Args } from '@oclif/core';
import { DlprofCommand } from '../cli/base.js';
import { storeFlags } from '../cli/gpu-flags.js';
import { defaultDbPath, Store } from '../store/db.js';
import { importResults, parseExport, type ImportSummary } from '../store/exchange.js';
import { DlprofError, EXIT, printable } from '../util/errors.js';

export const IMPORT_SCHEMA_VERSION = 1;

export default class Import extends DlprofCommand {
  static override summary = 'Add the results in files written by dlprof export to this store.';
  static override description = 'All files are read and checked first, then imported in one transaction: a truncated, corrupt or foreign file '
    + 'changes nothing. Importing a file again adds nothing. Each imported result keeps the store it came from.';

  static override examples = ['<%= config.bin %> import h200.json', '<%= config.bin %> import a.json b.json --db postgres://dlprof@db.internal/dlprof'];

  static override args = { files: Args.string({ description: 'Files written by dlprof export', required: true }) };
  static override strict = false;
  static override flags = { ...storeFlags };

  async run(): Promise<ImportSummary & { schemaVersion: number; db: string }> {
    const { argv, flags } = await this.parse(Import);
    const inputs = (argv as string[]).map((file) => {
      try {
        return { file, text: fs.readFileSync(file, 'utf8') };
      } catch (e) {
        throw new DlprofError(`${printable(file)}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'E_IMPORT_READ', EXIT.input);
      }
    });
    // Every file checked before the store is opened: a bad one leaves it untouched (not even created).
    for (const i of inputs) parseExport(i);
    const store = Store.open(flags.db ?? defaultDbPath());
    try {
      const summary = importResults(store, inputs);
      if (!this.jsonEnabled()) {
        for (const f of summary.files) {
          this.log(`${printable(f.file)} (from ${printable(f.source)}, exported ${f.exportedAt}): `
            + (f.importId === null ? `nothing new (${f.alreadyPresent} measurements already here)`
              : `added ${f.machines} machines, ${f.layers} layers, ${f.measurements} measurements, ${f.probes} probes${f.alreadyPresent ? `; ${f.alreadyPresent} measurements already here` : ''}`));
        }
      }
      return { schemaVersion: IMPORT_SCHEMA_VERSION, db: store.file, ...summary };
    } finally {
      store.close();
    }
  }
}
