import { main, type Io } from '../cli/main.ts';

/** What a person (or a script) would read from one CLI command, run in-process. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process, capturing stdout and stderr (not a terminal). */
export async function runCli(argv: readonly string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const io: Io = { out: (text) => (out += text), err: (text) => (err += text), isTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}
