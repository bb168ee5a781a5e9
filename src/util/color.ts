import { Chalk, type ChalkInstance } from 'chalk';

/** Colour only when stdout is a terminal and NO_COLOR is unset (https://no-color.org). */
export function terminalChalk(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  const on = !!stream.isTTY && !process.env.NO_COLOR;
  return new Chalk({ level: on ? 1 : 0 });
}
