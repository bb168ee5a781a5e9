/**
 * The base of every dlprof command: turns DlprofError (user mistakes) into oclif's error with a
 * stable code, exit status and suggestions, or, under --json, into one `{schemaVersion, error}`
 * document on stdout. Unexpected errors (bugs) keep their stack trace.
 */
import { Command, Errors, type Interfaces } from '@oclif/core';
import { showDriverMessages } from '../gpu/quiet.js';
import { DlprofError, EXIT } from '../util/errors.js';

/** An error oclif raised while parsing the command line (its parse errors exit 2). */
function isUsageError(err: unknown): boolean {
  return err instanceof Errors.CLIError && (err as { oclif?: { exit?: number } }).oclif?.exit === EXIT.usage;
}

export const ERROR_SCHEMA_VERSION = 1;

/** oclif's parsed flags and args (its FlagOutput/ArgOutput, which it does not export). */
type Output = { [name: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

export abstract class DlprofCommand extends Command {
  static override enableJsonFlag = true;

  /** Every command parses through here: --verbose (the GPU commands' flag) lets the driver's messages through. */
  protected override async parse<F extends Output, B extends Output, A extends Output>(
    options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    const out = await super.parse<F, B, A>(options, argv);
    if ((out.flags as { verbose?: boolean }).verbose) showDriverMessages(true);
    return out;
  }

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    if (err instanceof DlprofError) {
      process.exitCode = err.exit;
      if (this.jsonEnabled()) {
        this.logJson(this.toErrorJson(err));
        return;
      }
      const e = new Errors.CLIError(err.message, { exit: err.exit, code: err.code, suggestions: err.suggestions });
      return super.catch(e as Interfaces.CommandError);
    }
    // oclif's own usage errors (a flag value outside its options, a missing argument) exit 2; under
    // --json the document says so, and the process exits with the status it reports.
    if (this.jsonEnabled() && isUsageError(err)) {
      process.exitCode = EXIT.usage;
      this.logJson(this.toErrorJson(err));
      return;
    }
    return super.catch(err);
  }

  protected override toErrorJson(err: unknown): unknown {
    if (err instanceof DlprofError) {
      return { schemaVersion: ERROR_SCHEMA_VERSION, error: { code: err.code, message: err.message, exit: err.exit, suggestions: err.suggestions } };
    }
    const e = err as { message?: string; oclif?: { exit?: number }; code?: string };
    if (isUsageError(err)) return { schemaVersion: ERROR_SCHEMA_VERSION, error: { code: 'E_USAGE', message: e.message ?? String(err), exit: EXIT.usage, suggestions: ['See --help.'] } };
    return { schemaVersion: ERROR_SCHEMA_VERSION, error: { code: e.code ?? 'E_INTERNAL', message: e.message ?? String(err), exit: e.oclif?.exit ?? 1, suggestions: [] } };
  }
}
