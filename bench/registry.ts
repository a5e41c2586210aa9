/** One registered bench: `npm run bench -- <name>` runs `module`'s exported `run(options)`. */
export interface BenchEntry {
  name: string;
  /** Path relative to `bench/`; imported only when the bench runs, so entries may name modules not written yet. */
  module: string;
  description: string;
}

// To add a bench, write `bench/<name>.bench.ts` exporting `run(options: BenchOptions): Promise<BenchReport>`
// (see `lib/harness.ts`) and add a line below. Entries whose module does not exist yet are skipped when running
// all, and reported "not built yet" when named.

/** Every bench, in the order `npm run bench` runs them. */
export const BENCHES: readonly BenchEntry[] = [
  { name: 'corpus', module: './corpus.bench.ts', description: 'generate the 24 MP photo corpus; time one photo, check sizes and EXIF' },
  { name: 'hash', module: './hash.bench.ts', description: 'XXH3-128 (hash-wasm) vs BLAKE3, SHA-256, xxhsum, b3sum, sha256sum' },
  { name: 'ingest', module: './ingest.bench.ts', description: 'import of a camera card vs cp -r + sync + the fastest CLI hasher' },
  { name: 'catalog', module: './catalog.bench.ts', description: 'catalog inserts and event/timeline paging' },
  { name: 'search', module: './search.bench.ts', description: 'search index build and query latency' },
  { name: 'video', module: './video.bench.ts', description: '720p H.264 proxy and poster of 1080p30 camera footage vs the ffmpeg CLI with the same arguments' },
  { name: 'thumbs', module: './thumbs.bench.ts', description: 'preview + thumbnail + placeholder vs vipsthumbnail, ImageMagick, djpeg; event-loop lag during an import' },
  { name: 'watch', module: './watch.bench.ts', description: 'watching event folders: ready time, RSS and inotify watches vs chokidar 5' },
  { name: 'upload', module: './upload.bench.ts', description: 'S3 multipart uploads to s3rver vs rclone copy: throughput, part size × concurrency, peak RSS of a 5 GiB upload' },
  { name: 'sync', module: './sync.bench.ts', description: 'sync service on SQLite and PostgreSQL: gallery page and presign under 500 connections, publishing a 2,000-asset manifest; vs bare Fastify' },
  { name: 'ui', module: './ui.bench.ts', description: 'desktop grid in Chromium over 100,000 assets: first paint, frames dropped scrolling 10,000, heap, rating key to paint; vs a static page of every tile' },
  { name: 'gallery', module: './gallery.bench.ts', description: "parents' gallery on a phone in Chromium (4× CPU): first paint, interactive and bytes of an event of 1,000 and 10,000 media vs a static page" },
];
