#!/usr/bin/env node
import { execute, flush } from '@oclif/core';

await execute({ dir: import.meta.url });
// Dawn keeps native threads and event processing alive after a command is done; exit once the
// command has finished and its output is flushed, rather than waiting on them.
await flush();
process.exit(process.exitCode ?? 0);
