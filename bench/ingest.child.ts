import { mkdir } from 'node:fs/promises';
import { openEngine } from '../app/engine.ts';
import { reportToParent, timeOnce } from './lib/harness.ts';

/** What the ingest child reports to `ingest.bench.ts`. */
export interface IngestChildResult {
  importSeconds: number;
  imported: number;
  duplicates: number;
  failed: number;
  bytes: number;
  /** The first few failures, as the engine described them, for the JSON record. */
  failedSample: unknown[];
}

// Runs in its own process (started by runNodeChild) so that its peak RSS is the importer's alone.
const [source, libraryPath, event] = process.argv.slice(2);

await reportToParent(async (): Promise<IngestChildResult> => {
  if (!source || !libraryPath || !event) throw new Error('usage: ingest.child.ts <source> <libraryPath> <event>');
  await mkdir(libraryPath, { recursive: true });
  const handle = await openEngine({ libraryPath });
  try {
    const { seconds, value } = await timeOnce(() => handle.imports.run({ source, event }));
    return {
      importSeconds: seconds,
      imported: value.imported.length,
      duplicates: value.duplicates.length,
      failed: value.failed.length,
      bytes: value.bytes,
      failedSample: value.failed.slice(0, 3),
    };
  } finally {
    await handle.close();
  }
});
