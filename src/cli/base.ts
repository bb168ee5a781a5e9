/**
 * The base of every dlprof command: turns DlprofError (user mistakes) into oclif's error with a
 * stable code, exit status and suggestions, or, under --json, into one `{schemaVersion, error}`
 * document on stdout. Unexpected errors (bugs) keep their stack trace.
 */
import { Command, Errors, type Interfaces } from '@oclif/core';
import { DlprofError } from '../util/errors.js';

export const ERROR_SCHEMA_VERSION = 1;

export abstract class DlprofCommand extends Command {
  static override enableJsonFlag = true;

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
    return super.catch(err);
  }

  protected override toErrorJson(err: unknown): unknown {
    if (err instanceof DlprofError) {
      return { schemaVersion: ERROR_SCHEMA_VERSION, error: { code: err.code, message: err.message, exit: err.exit, suggestions: err.suggestions } };
    }
    const e = err as { message?: string; oclif?: { exit?: number }; code?: string };
    return { schemaVersion: ERROR_SCHEMA_VERSION, error: { code: e.code ?? 'E_INTERNAL', message: e.message ?? String(err), exit: e.oclif?.exit ?? 1, suggestions: [] } };
  }
}
