import { DlprofCommand } from '../cli/base.js';
import { gpuFlags } from '../cli/gpu-flags.js';
import { describeAdapters, NO_ADAPTER_SUGGESTIONS, sameAdapter } from '../gpu/device.js';
import { DEVICES_SCHEMA_VERSION, renderDevices, type DevicesResult } from '../report/devices.js';
import { terminalChalk } from '../util/color.js';
import { DlprofError, EXIT } from '../util/errors.js';

export default class Devices extends DlprofCommand {
  static override summary = 'List the WebGPU adapters Dawn sees and the one dlprof will use.';
  static override description = 'Shows vendor, architecture, device, driver description, backend, features (shader-f16, '
    + 'timestamp-query, subgroups…) and key limits, and which features Dawn keeps behind a toggle (--unlock-features turns those toggles on). Pick another adapter with --adapter (a substring of its name) or --backend.';

  static override examples = ['<%= config.bin %> devices', '<%= config.bin %> devices --backend vulkan --json'];

  static override flags = { ...gpuFlags };

  async run(): Promise<DevicesResult> {
    const { flags } = await this.parse(Devices);
    const { chosen, all, features } = await describeAdapters({ adapter: flags.adapter, backend: flags.backend, unlock: flags['unlock-features'] });
    if (!chosen) {
      throw new DlprofError(all.length ? 'Dawn lists adapters, but none could be opened with these options' : 'no WebGPU adapter found',
        'E_NO_ADAPTER', EXIT.device, NO_ADAPTER_SUGGESTIONS);
    }
    const result: DevicesResult = {
      schemaVersion: DEVICES_SCHEMA_VERSION,
      adapters: all.map((a) => ({ ...a, selected: sameAdapter(a.name, chosen.description) })),
      selected: chosen,
      unlocked: flags['unlock-features'],
      features,
    };
    if (!this.jsonEnabled()) this.log(renderDevices(result, terminalChalk()));
    return result;
  }
}
