import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { useS3Server } from '../test/s3-server.ts';
import { staticCredentials } from './credentials.ts';
import { ObjectStore } from './object-store.ts';
import { cloudSettingsSchema } from './settings.ts';

// A real S3-compatible server (s3rver on 127.0.0.1): listings and deletions past the 1,000 keys S3 answers per request.
const CREDS = staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const thing of open.splice(0)) thing.close();
});

describe('ObjectStore listing and deleting in pages', () => {
  it('lists every object under a prefix past one page of 1,000, and deletes them all in batches', async () => {
    const s3 = await useS3Server();
    const store = new ObjectStore(cloudSettingsSchema.parse({ endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, school: 'test-school' }), CREDS);
    open.push(store);
    const client = s3.client();
    const keys = Array.from({ length: 1_234 }, (_, i) => `schools/test-school/backups/${String(i).padStart(5, '0')}.json`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((Key, j) => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: `{"n":${i + j}}` }))));
    }
    // One key beside the prefix, which must not be listed or deleted.
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'schools/other/backups/x.json', Body: '{}' }));

    const listed = await store.list('schools/test-school/backups/');
    expect(listed.map((o) => o.key).sort()).toEqual(keys);
    expect(listed.find((o) => o.key === keys[7])?.size).toBe('{"n":7}'.length);
    const pages = s3.requests.filter((r) => r.op === 'ListObjects');
    expect(pages.length).toBe(2);

    await store.delete(listed.map((o) => o.key));
    expect(await store.list('schools/test-school/backups/')).toEqual([]);
    expect((await store.list('schools/other/')).map((o) => o.key)).toEqual(['schools/other/backups/x.json']);
  }, 120_000);
});
