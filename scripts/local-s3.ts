// An S3-compatible store on this computer, for trying the whole loop (card → desktop → store → sync service →
// a parent's browser) on one machine without a cloud account: the same s3rver the tests use, on 127.0.0.1 only,
// keeping its objects in a folder between runs. Not a store for a school: it takes one fixed key, and anyone on
// this computer could use it.
//
//   npm run local-s3 [-- --port 9000 --dir .local-s3 --bucket keepsake]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startS3Server } from '../app/test/s3-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    dir: { type: 'string', default: '.local-s3' },
    bucket: { type: 'string', default: 'keepsake' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`local-s3: --port must be a port number (1–65535), not "${values.port}"`);
  process.exit(2);
}
const root = path.resolve(values.dir);
const s3 = await startS3Server({ port, root, bucket: values.bucket }).catch((error: NodeJS.ErrnoException) => {
  console.error(error.code === 'EADDRINUSE' ? `local-s3: port ${port} is taken; choose another with --port` : `local-s3: ${error.message}`);
  process.exit(1);
});
console.log(`S3-compatible store at ${s3.endpoint}, bucket "${s3.bucket}", objects in ${root}/store (Ctrl-C stops it)

The sync service, in another terminal:
  S3_ENDPOINT=${s3.endpoint} S3_BUCKET=${s3.bucket} S3_FORCE_PATH_STYLE=true \\
  S3_ACCESS_KEY_ID=S3RVER S3_SECRET_ACCESS_KEY=S3RVER npm run sync-service

Keepsake › Settings › Storage: endpoint ${s3.endpoint}, bucket ${s3.bucket}, path-style on;
access key ID S3RVER, secret access key S3RVER.`);
const stop = () => void s3.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
