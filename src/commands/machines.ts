import { DlprofCommand } from '../cli/base.js';
import { storeFlags } from '../cli/gpu-flags.js';
import { renderMachines, MACHINES_SCHEMA_VERSION, type MachinesResult } from '../report/machines.js';
import { defaultDbPath, Store } from '../store/db.js';
import { listMachines } from '../store/machines.js';
import { terminalChalk } from '../util/color.js';

export default class Machines extends DlprofCommand {
  static override summary = 'List the machines a store knows, with their adapters and how many layers each has measured.';
  static override examples = ['<%= config.bin %> machines', '<%= config.bin %> machines --db postgres://dlprof@db.internal/dlprof --json'];
  static override flags = { ...storeFlags };

  async run(): Promise<MachinesResult> {
    const { flags } = await this.parse(Machines);
    const store = Store.open(flags.db ?? defaultDbPath());
    try {
      const result: MachinesResult = { schemaVersion: MACHINES_SCHEMA_VERSION, db: store.file, machines: listMachines(store) };
      if (!this.jsonEnabled()) this.log(renderMachines(result, terminalChalk()));
      return result;
    } finally {
      store.close();
    }
  }
}
