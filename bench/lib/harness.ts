import { spawn, fork, execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whatever the working directory the bench was started from. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where benches keep corpora, scratch files and results; git-ignored. */
export const BENCH_DIR = path.join(REPO_ROOT, '.bench');

/** One MiB, the unit of every throughput figure in MiB/s. */
export const MIB = 1024 * 1024;

/** What the runner hands to every bench's `run()`. */
export interface BenchOptions {
  /** Small inputs for a smoke run (e.g. 50 photos, a 64 MiB hash file). */
  quick: boolean;
  /** Root for corpora, scratch space and results (`<repo>/.bench`). */
  benchDir: string;
  /** Progress and notes for the person watching; not part of the results. */
  log: (line: string) => void;
}

/** One line of the results table; `ratio` above 1 always means ours is better. */
export interface ResultRow {
  what: string;
  unit: string;
  ours: number | null;
  reference: number | null;
  /** Ours relative to the reference, oriented so that > 1 favours ours. */
  ratio: number | null;
  /** Human-readable target, e.g. `≥ 0.80×`, or `–` when the row is informational. */
  target: string;
  pass: boolean | null;
  note?: string;
}

/** What a bench returns; the runner prints it and writes it to JSON. */
export interface BenchReport {
  name: string;
  rows: ResultRow[];
  /** True or false when the bench wanted cold-cache runs, null when it did not try. */
  cachesDropped: boolean | null;
  /** Raw figures (samples, sizes, tool versions) kept in the JSON for later comparison. */
  details?: Record<string, unknown>;
}

/** The shape every `bench/*.bench.ts` module exports. */
export interface BenchModule {
  run(options: BenchOptions): Promise<BenchReport>;
}

/** Summary of a set of samples; percentiles are linearly interpolated. */
export interface SampleStats {
  n: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p50: number;
  p95: number;
  p99: number;
}

/** The q-th quantile (0–1) of already sorted samples. */
function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] ?? Number.NaN;
  const high = sorted[upper] ?? low;
  return low + (high - low) * (position - lower);
}

/** Median of the samples (NaN when empty). */
export function median(samples: readonly number[]): number {
  return quantileSorted([...samples].sort((a, b) => a - b), 0.5);
}

/** min/max/mean and p50/p95/p99 of latency or duration samples. */
export function summarize(samples: readonly number[]): SampleStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  const p50 = quantileSorted(sorted, 0.5);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    median: p50,
    p50,
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** Seconds taken by one call of `fn`, with its result. */
export async function timeOnce<T>(fn: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

/** Median seconds of `runs` timed calls after `warmup` untimed ones; `before` runs untimed ahead of each call (e.g. dropping caches). */
export async function timeRuns(
  fn: () => Promise<unknown> | unknown,
  options: { runs: number; warmup?: number; before?: () => Promise<unknown> | unknown },
): Promise<{ median: number; samples: number[] }> {
  for (let i = 0; i < (options.warmup ?? 0); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    await options.before?.();
    samples.push((await timeOnce(fn)).seconds);
  }
  return { median: median(samples), samples };
}

/** Median seconds per task over `runs` rounds; each round runs every task once, starting from a different one, so drift on a shared machine hits all alike. */
export async function timeRoundRobin(
  tasks: Readonly<Record<string, () => Promise<unknown> | unknown>>,
  options: { runs: number; before?: () => Promise<unknown> | unknown },
): Promise<Record<string, { median: number; samples: number[] }>> {
  const names = Object.keys(tasks);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < options.runs; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length] as string;
      const task = tasks[name] as () => Promise<unknown> | unknown;
      await options.before?.();
      samples[name]?.push((await timeOnce(task)).seconds);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const list = samples[name] ?? [];
      return [name, { median: median(list), samples: list }];
    }),
  );
}

/** Latency stats in milliseconds over `count` calls, after `warmup` untimed ones. */
export async function sampleLatencies(
  fn: (index: number) => Promise<unknown> | unknown,
  options: { count: number; warmup?: number },
): Promise<SampleStats> {
  for (let i = 0; i < (options.warmup ?? 0); i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < options.count; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return summarize(samples);
}

/** Flushes dirty pages and empties the page cache so that cold runs really read the disk; false where that is not allowed. */
export async function dropCaches(): Promise<boolean> {
  // Needs root; failing is normal on a developer's machine, so it stays silent and callers record the result.
  try {
    await runTool('sync', []);
    await writeFile('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

/** Result of running a reference tool. */
export interface ToolRun {
  stdout: string;
  stderr: string;
  seconds: number;
  /** VmHWM of the process, polled from /proc; null when it exited before the first poll. */
  peakRssBytes: number | null;
}

/** Polls `/proc/<pid>/status` for VmHWM (a high-water mark, so the last reading is the peak so far). */
function pollPeakRss(pid: number, intervalMs: number): { stop: () => Promise<number | null> } {
  let peak: number | null = null;
  let stopped = false;
  const read = async (): Promise<void> => {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
      if (match?.[1]) peak = Math.max(peak ?? 0, Number(match[1]) * 1024);
    } catch {
      // The process has gone (or /proc is absent); keep the last reading.
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await read();
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return peak;
    },
  };
}

/** Runs a CLI with an argument array (no shell), timing it and polling its peak RSS; rejects on a non-zero exit. */
export async function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; rssPollMs?: number } = {},
): Promise<ToolRun> {
  const start = process.hrtime.bigint();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const rss = child.pid === undefined ? null : pollPeakRss(child.pid, options.rssPollMs ?? 10);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const peakRssBytes = rss ? await rss.stop() : null;
  const run = {
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
    seconds,
    peakRssBytes,
  };
  if (code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${run.stderr.trim().slice(0, 500)}`);
  }
  return run;
}

/** True when `command` is on the PATH (benches skip reference rows for missing tools instead of failing). */
export async function hasTool(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', 'command -v "$1"', 'sh', command], (error) => resolve(error === null));
  });
}

/** First line of `<tool> --version`, for the JSON record; null when it has none. */
export async function toolVersion(command: string, args: readonly string[] = ['--version']): Promise<string | null> {
  try {
    const run = await runTool(command, args);
    return (run.stdout || run.stderr).split('\n')[0]?.trim() ?? null;
  } catch {
    return null;
  }
}

/** What a Node child started by {@link runNodeChild} sends back. */
interface ChildMessage<T> {
  kind: 'bench-result';
  result?: T;
  error?: string;
  maxRssBytes: number;
}

/** Runs a TypeScript module in a fresh Node process (via tsx); returns what it sent with {@link reportToParent}, its own peak RSS and the wall time. */
export async function runNodeChild<T>(
  modulePath: string,
  args: readonly string[],
): Promise<{ result: T; seconds: number; peakRssBytes: number }> {
  // A fresh process keeps the bench's own memory (corpora, textures) out of the figure.
  const start = process.hrtime.bigint();
  const child = fork(modulePath, [...args], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  let message: ChildMessage<T> | undefined;
  child.on('message', (value) => {
    message = value as ChildMessage<T>;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve(exitCode));
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (!message) throw new Error(`${path.relative(REPO_ROOT, modulePath)} exited with ${code} without reporting`);
  if (message.error !== undefined || message.result === undefined) {
    throw new Error(`${path.relative(REPO_ROOT, modulePath)} failed: ${message.error ?? 'no result'}`);
  }
  return { result: message.result, seconds, peakRssBytes: message.maxRssBytes };
}

/** Child side of {@link runNodeChild}: runs `work` and sends its result (or error) and maxRSS to the parent. */
export async function reportToParent<T>(work: () => Promise<T>): Promise<void> {
  const send = (payload: Omit<ChildMessage<T>, 'kind' | 'maxRssBytes'>): Promise<void> =>
    new Promise((resolve) => {
      // resourceUsage().maxRSS is in KiB on Linux.
      const message: ChildMessage<T> = { kind: 'bench-result', ...payload, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
      if (process.send) process.send(message, () => resolve());
      else {
        process.stdout.write(`${JSON.stringify(message)}\n`);
        resolve();
      }
    });
  try {
    await send({ result: await work() });
  } catch (error) {
    await send({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
  }
  process.disconnect?.();
}

/** A row comparing ours with a reference; `better` says which direction wins, so the ratio is always "> 1 favours ours". */
export function compareRow(input: {
  what: string;
  unit: string;
  ours: number | null;
  reference: number | null;
  better: 'higher' | 'lower';
  /** Minimum acceptable ratio; omit for an informational row. */
  target?: number;
  note?: string;
}): ResultRow {
  const { ours, reference } = input;
  let ratio: number | null = null;
  if (ours !== null && reference !== null && ours > 0 && reference > 0) {
    ratio = input.better === 'higher' ? ours / reference : reference / ours;
  }
  const pass = input.target === undefined || ratio === null ? null : ratio >= input.target;
  return {
    what: input.what,
    unit: input.unit,
    ours,
    reference,
    ratio,
    target: input.target === undefined ? '–' : `≥ ${input.target.toFixed(2)}×`,
    pass,
    ...(input.note === undefined ? {} : { note: input.note }),
  };
}

/** A row that checks a value against a stated target rather than against a reference tool. */
export function checkRow(input: {
  what: string;
  unit: string;
  ours: number | null;
  target: string;
  pass: boolean | null;
  reference?: number | null;
  note?: string;
}): ResultRow {
  return {
    what: input.what,
    unit: input.unit,
    ours: input.ours,
    reference: input.reference ?? null,
    ratio: null,
    target: input.target,
    pass: input.pass,
    ...(input.note === undefined ? {} : { note: input.note }),
  };
}

/** Three significant figures, no exponent, thousands unseparated so columns stay narrow. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

function formatValue(value: number | null, unit: string): string {
  if (value === null) return '–';
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

/** The fixed-width table: what, ours, reference, ratio, target, pass/fail (notes underneath). */
export function formatTable(rows: readonly ResultRow[]): string {
  const widths = { what: 46, ours: 15, reference: 15, ratio: 7, target: 10, pass: 4 };
  const line = (cells: string[]): string => cells.join('  ').trimEnd();
  const header = line([
    fit('what', widths.what),
    'ours'.padStart(widths.ours),
    'reference'.padStart(widths.reference),
    'ratio'.padStart(widths.ratio),
    fit('target', widths.target),
    'pass',
  ]);
  const out = [header, '-'.repeat(header.length)];
  const notes: string[] = [];
  for (const row of rows) {
    out.push(
      line([
        fit(row.what, widths.what),
        fit(formatValue(row.ours, row.unit), widths.ours).trimEnd().padStart(widths.ours),
        fit(formatValue(row.reference, row.unit), widths.reference).trimEnd().padStart(widths.reference),
        (row.ratio === null ? '–' : `${row.ratio.toFixed(2)}×`).padStart(widths.ratio),
        fit(row.target, widths.target),
        row.pass === null ? '–' : row.pass ? 'pass' : 'FAIL',
      ]),
    );
    if (row.note) notes.push(`  * ${row.what}: ${row.note}`);
  }
  return [...out, ...notes].join('\n');
}

/** Prints {@link formatTable} to stdout (the bench CLI's user-facing output). */
export function printTable(rows: readonly ResultRow[]): void {
  process.stdout.write(`${formatTable(rows)}\n`);
}

/** Facts about the machine, stored with every result because these machines are shared and differ. */
export function hostInfo(): Record<string, unknown> {
  return {
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()}`,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    totalMemoryBytes: os.totalmem(),
    loadAverage: os.loadavg(),
    node: process.version,
  };
}

/** An ISO 8601 instant safe in file names (colons break Windows paths and scp). */
export function fileStamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** Writes a report to `.bench/results/<name>-<ISO date>.json` and returns the path. */
export async function writeResults(
  report: BenchReport,
  meta: { quick: boolean; startedAt: Date; finishedAt: Date },
  directory: string = path.join(BENCH_DIR, 'results'),
): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, `${report.name}-${fileStamp(meta.startedAt)}.json`);
  const body = {
    name: report.name,
    startedAt: meta.startedAt.toISOString(),
    finishedAt: meta.finishedAt.toISOString(),
    quick: meta.quick,
    cachesDropped: report.cachesDropped,
    host: hostInfo(),
    rows: report.rows,
    details: report.details ?? {},
  };
  await writeFile(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

/** Bytes as MiB/GiB text for progress lines. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MIB) return `${(bytes / (1024 * MIB)).toFixed(2)} GiB`;
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
