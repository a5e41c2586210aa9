import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openEngine } from '../app/engine.ts';
import { reportToParent } from './lib/harness.ts';

/** What the lag child reports to `thumbs.bench.ts`. */
export interface LagChildResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  imported: number;
  thumbs: number;
  importSeconds: number;
  totalSeconds: number;
}

// Runs in its own process: the event loop measured is the engine's alone, as in the CLI or Electron's engine process.
const [source, libraryPath] = process.argv.slice(2);

await reportToParent(async (): Promise<LagChildResult> => {
  if (!source || !libraryPath) throw new Error('usage: thumbs.child.ts <card> <library>');
  const engine = await openEngine({ libraryPath });
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  try {
    histogram.enable();
    const started = performance.now();
    engine.jobs.start();
    const report = await engine.imports.run({ source, event: 'Sports Day' });
    const importSeconds = (performance.now() - started) / 1000;
    await engine.jobs.whenIdle();
    const totalSeconds = (performance.now() - started) / 1000;
    histogram.disable();
    return {
      p50Ms: histogram.percentile(50) / 1e6,
      p99Ms: histogram.percentile(99) / 1e6,
      maxMs: histogram.max / 1e6,
      imported: report.imported.length,
      thumbs: engine.catalog.jobs.counts('thumbs').done,
      importSeconds,
      totalSeconds,
    };
  } finally {
    await engine.close();
  }
});
