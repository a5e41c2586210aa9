import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, REPO_ROOT, printTable, writeResults, type BenchModule } from './lib/harness.ts';
import { BENCHES, type BenchEntry } from './registry.ts';

const USAGE = `usage: npm run bench -- [name ...] [--quick] [--list]

  name     one or more registered benches (default: all that exist)
  --quick  small inputs for a smoke run (e.g. 50 photos, a 64 MiB hash file)
  --list   show the registered benches and whether each is built`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function moduleFile(entry: BenchEntry): string {
  return fileURLToPath(new URL(entry.module, import.meta.url));
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function loadBench(entry: BenchEntry): Promise<BenchModule> {
  // A computed specifier keeps the typechecker from resolving benches that are not written yet.
  const loaded = (await import(new URL(entry.module, import.meta.url).href)) as Partial<BenchModule>;
  if (typeof loaded.run !== 'function') throw new Error(`${entry.module} does not export run(options)`);
  return loaded as BenchModule;
}

/** Parses the command line, runs the selected benches in registry order, prints their tables and writes their JSON. */
export async function main(argv: readonly string[]): Promise<number> {
  const flags = new Set(argv.filter((arg) => arg.startsWith('-')));
  const names = argv.filter((arg) => !arg.startsWith('-'));
  const unknownFlags = [...flags].filter((flag) => !['--quick', '--list', '--help', '-h'].includes(flag));
  if (flags.has('--help') || flags.has('-h') || unknownFlags.length > 0) {
    if (unknownFlags.length > 0) say(`unknown option: ${unknownFlags.join(' ')}`);
    say(USAGE);
    return unknownFlags.length > 0 ? 2 : 0;
  }
  if (flags.has('--list')) {
    for (const entry of BENCHES) {
      const built = await exists(moduleFile(entry));
      say(`${entry.name.padEnd(10)} ${built ? '          ' : '(not built)'} ${entry.description}`);
    }
    return 0;
  }

  const unknown = names.filter((name) => !BENCHES.some((entry) => entry.name === name));
  if (unknown.length > 0) {
    say(`unknown bench: ${unknown.join(', ')}; known: ${BENCHES.map((entry) => entry.name).join(', ')}`);
    return 2;
  }
  const explicit = names.length > 0;
  const selected = explicit ? BENCHES.filter((entry) => names.includes(entry.name)) : BENCHES;
  const quick = flags.has('--quick');
  let failures = 0;

  for (const entry of selected) {
    if (!(await exists(moduleFile(entry)))) {
      // Running everything skips benches nobody has written yet; naming one is a question that deserves an answer.
      if (explicit) say(`\n== ${entry.name}: not built yet (${path.relative(REPO_ROOT, moduleFile(entry))} does not exist)`);
      continue;
    }
    say(`\n== ${entry.name}${quick ? ' (quick)' : ''}: ${entry.description}`);
    const startedAt = new Date();
    try {
      const bench = await loadBench(entry);
      const report = await bench.run({ quick, benchDir: BENCH_DIR, log: (line) => say(`   ${line}`) });
      const finishedAt = new Date();
      say('');
      printTable(report.rows);
      if (report.cachesDropped !== null) say(`page cache dropped for cold runs: ${report.cachesDropped ? 'yes' : 'no'}`);
      const file = await writeResults(report, { quick, startedAt, finishedAt });
      say(`results: ${path.relative(process.cwd(), file)} (${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failures++;
      say(`!! ${entry.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
