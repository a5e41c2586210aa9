/** `npm run build:web -w sync-service`: builds the parents' gallery into `dist/web` and lists what it wrote. */
import { buildGallery, WEB_DIST } from './build.ts';

const built = await buildGallery();
for (const asset of built.assets) {
  process.stdout.write(`${WEB_DIST}/${asset.file}: ${asset.bytes} bytes (${asset.gzipBytes} gzipped)\n`);
}
