import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** A named logger; lines carry the module name, a level and structured fields. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(name: string): Logger;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
/** Where log lines go. */
export type LogSink = (line: { time: string; level: Level; name: string; msg: string } & LogFields) => void;

/** A logger that drops everything: the default for tests and library use. */
export const silentSink: LogSink = () => undefined;

/** Creates a logger named `name` writing to `sink`. */
export function createLogger(name: string, sink: LogSink = silentSink): Logger {
  const write = (level: Level) => (msg: string, fields: LogFields = {}) =>
    sink({ time: new Date().toISOString(), level, name, msg, ...serialise(fields) });
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (child) => createLogger(`${name}:${child}`, sink),
  };
}

function serialise(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { message: value.message, code: (value as { code?: unknown }).code } : value;
  }
  return out;
}

/**
 * A sink appending JSON lines to `file`, rotated to `file.1` past `maxBytes`. Writes are queued so
 * logging never blocks the event loop and lines never interleave.
 */
export function fileSink(file: string, maxBytes = 5 * 1024 * 1024): LogSink & { flush(): Promise<void> } {
  let queue: Promise<void> = mkdir(path.dirname(file), { recursive: true }).then(() => undefined);
  let pending: string[] = [];
  const drain = async (): Promise<void> => {
    const lines = pending.join('');
    pending = [];
    if (!lines) return;
    const size = await stat(file).then((s) => s.size, () => 0);
    if (size > maxBytes) await rename(file, `${file}.1`).catch(() => undefined);
    await appendFile(file, lines);
  };
  const sink = ((line) => {
    pending.push(`${JSON.stringify(line)}\n`);
    if (pending.length === 1) queue = queue.then(drain).catch(() => undefined);
  }) as LogSink & { flush(): Promise<void> };
  sink.flush = () => queue.then(drain).catch(() => undefined);
  return sink;
}
