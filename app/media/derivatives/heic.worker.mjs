// Decodes one HEIC/HEIF image per message with libheif (WebAssembly), off the engine's event loop: a 12 MP
// phone photo takes 1–2 s of CPU, which on the main thread would freeze the UI. Plain JavaScript so it loads
// in any worker (Node, Electron's utility process, vitest) without a TypeScript loader.
import { parentPort } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import decode from 'heic-decode';

parentPort.on('message', async ({ id, file, maxPixels }) => {
  try {
    const buffer = await readFile(file);
    const images = await decode.all({ buffer });
    try {
      const primary = images[0];
      if (primary.width * primary.height > maxPixels) {
        parentPort.postMessage({ id, error: { code: 'too-large', message: `${primary.width}×${primary.height}` } });
        return;
      }
      const { width, height, data } = await primary.decode();
      const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      parentPort.postMessage({ id, width, height, pixels }, [pixels.buffer]);
    } finally {
      images.dispose();
    }
  } catch (error) {
    parentPort.postMessage({ id, error: { code: error && error.code === 'ENOENT' ? 'ENOENT' : 'decode', message: String(error && error.message ? error.message : error) } });
  }
});
