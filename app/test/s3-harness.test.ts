import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { useS3Server, type S3Server } from './s3-server.ts';

// The S3 test harness itself: s3rver plus the operations the harness adds, and the fault proxy in front of it.

const MiB = 1024 * 1024;

const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');

/** Deterministic bytes that differ by `seed`, so parts have distinct MD5s. */
function bytes(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + seed * 7) & 0xff;
  return buffer;
}

/** The error a rejected promise gave, failing the test if it resolved. */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

/** A server, a proxy in front of it, and a client through the proxy that does not retry. */
async function useProxiedS3(): Promise<{ s3: S3Server; proxy: FaultProxy; client: S3Client }> {
  const s3 = await useS3Server();
  const proxy = await useFaultProxy({ host: '127.0.0.1', port: s3.port });
  return { s3, proxy, client: s3.client({ endpoint: proxy.endpoint, maxAttempts: 1 }) };
}

const NETWORK_ERRORS = ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED'];

describe('S3 server (s3rver plus ListParts, AbortMultipartUpload, ListMultipartUploads)', () => {
  it('round-trips an object with its metadata', async () => {
    const s3 = await useS3Server();
    const client = s3.client();
    const Bucket = s3.bucket;
    const body = bytes(4096, 1);
    await client.send(new PutObjectCommand({ Bucket, Key: 'photos/a.jpg', Body: body, ContentType: 'image/jpeg', Metadata: { sha256: 'abc123', 'original-name': 'IMG 0001.JPG' } }));

    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'photos/a.jpg' }));
    expect(head.ContentLength).toBe(4096);
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.ETag).toBe(`"${md5(body)}"`);
    expect(head.Metadata).toEqual({ sha256: 'abc123', 'original-name': 'IMG 0001.JPG' });

    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'photos/a.jpg' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(s3.requests.map((request) => request.op)).toEqual(['PutObject', 'HeadObject', 'GetObject']);
  });

  it('lists parts page by page with ETags that are the MD5 of each part, and completes with the metadata given at create', async () => {
    const s3 = await useS3Server();
    const client = s3.client();
    const Bucket = s3.bucket;
    const Key = 'videos/clip.mp4';
    const parts = [bytes(5 * MiB, 1), bytes(5 * MiB, 2), bytes(1000, 3)];
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'video/mp4', Metadata: { sha256: 'feed' } }));
    for (const [index, Body] of parts.entries()) {
      const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: index + 1, Body }));
      expect(ETag).toBe(`"${md5(Body)}"`);
    }

    const first = await client.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2 }));
    expect(first.IsTruncated).toBe(true);
    expect(first.NextPartNumberMarker).toBe('2');
    expect(first.Parts?.map((part) => [part.PartNumber, part.ETag, part.Size])).toEqual([
      [1, `"${md5(parts[0]!)}"`, 5 * MiB],
      [2, `"${md5(parts[1]!)}"`, 5 * MiB],
    ]);
    const second = await client.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2, PartNumberMarker: first.NextPartNumberMarker }));
    expect(second.IsTruncated).toBe(false);
    expect(second.Parts?.map((part) => [part.PartNumber, part.ETag, part.Size])).toEqual([[3, `"${md5(parts[2]!)}"`, 1000]]);

    const Parts = [...first.Parts!, ...second.Parts!].map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
    const head = await client.send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ContentLength).toBe(10 * MiB + 1000);
    expect(head.ContentType).toBe('video/mp4');
    expect(head.Metadata).toEqual({ sha256: 'feed' });
    // Unlike AWS ("<md5 of the part md5s>-3"), s3rver gives a multipart object the plain MD5 of its bytes.
    expect(head.ETag).toBe(`"${md5(Buffer.concat(parts))}"`);
    expect(s3.requests.filter((request) => request.op === 'UploadPart').map((request) => request.partNumber)).toEqual([1, 2, 3]);
  });

  it('answers NoSuchUpload once an upload is aborted', async () => {
    const s3 = await useS3Server();
    const client = s3.client();
    const Bucket = s3.bucket;
    const Key = 'aborted.bin';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: bytes(100, 1) }));
    const aborted = await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect(aborted.$metadata.httpStatusCode).toBe(204);

    for (const call of [
      () => client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: bytes(100, 2) })),
      () => client.send(new ListPartsCommand({ Bucket, Key, UploadId })),
      () => client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: 'x' }] } })),
      () => client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
    ]) {
      const error = await failure(call());
      expect(error.name).toBe('NoSuchUpload');
      expect(error.$metadata?.httpStatusCode).toBe(404);
    }
  });

  it('lists open uploads by prefix, not aborted ones', async () => {
    const s3 = await useS3Server();
    const client = s3.client();
    const Bucket = s3.bucket;
    const open = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'event/open.mp4' }));
    const gone = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'event/gone.mp4' }));
    await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'other/elsewhere.mp4' }));
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: 'event/gone.mp4', UploadId: gone.UploadId }));

    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'event/' }));
    expect(listed.Uploads?.map((upload) => [upload.Key, upload.UploadId])).toEqual([['event/open.mp4', open.UploadId]]);
    expect(listed.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);
    expect(Math.abs(Date.now() - listed.Uploads![0]!.Initiated!.getTime())).toBeLessThan(60_000);
    expect(listed.IsTruncated).toBe(false);
  });
});

describe('fault proxy', () => {
  it('cuts a request off mid-body, leaving the previous object and no part behind', async () => {
    const { s3, proxy, client } = await useProxiedS3();
    const Bucket = s3.bucket;
    const before = bytes(1000, 9);
    await client.send(new PutObjectCommand({ Bucket, Key: 'cut.bin', Body: before }));
    proxy.addFault({ match: (request) => request.op === 'PutObject' || request.op === 'UploadPart', times: 2, action: { kind: 'drop', afterBytes: 16 * 1024 } });

    const error = await failure(client.send(new PutObjectCommand({ Bucket, Key: 'cut.bin', Body: bytes(256 * 1024, 1) })));
    // The SDK names a reset connection TimeoutError; the code tells what happened.
    expect(error.$metadata?.httpStatusCode).toBeUndefined();
    expect(NETWORK_ERRORS).toContain(error.code);
    expect(proxy.requests[1]).toMatchObject({ op: 'PutObject', key: 'cut.bin', outcome: 'dropped', bytes: 16 * 1024 });
    // As on S3, a PUT that never finished does not replace the object (s3rver alone would leave it truncated).
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'cut.bin' }));
    expect([head.ContentLength, head.ETag]).toEqual([1000, `"${md5(before)}"`]);

    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'cut.mp4' }));
    await failure(client.send(new UploadPartCommand({ Bucket, Key: 'cut.mp4', UploadId, PartNumber: 1, Body: bytes(256 * 1024, 2) })));
    expect(proxy.requests.at(-1)).toMatchObject({ op: 'UploadPart', partNumber: 1, outcome: 'dropped' });
    expect((await client.send(new ListPartsCommand({ Bucket, Key: 'cut.mp4', UploadId }))).Parts ?? []).toEqual([]);

    // The fault is used up: the retry goes through.
    const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key: 'cut.mp4', UploadId, PartNumber: 1, Body: bytes(256 * 1024, 2) }));
    expect(ETag).toBe(`"${md5(bytes(256 * 1024, 2))}"`);
    expect(proxy.requests.at(-1)).toMatchObject({ outcome: 'forwarded', status: 200, bytes: 256 * 1024 });
  });

  it('answers with an injected S3 error once, then forwards the retry', async () => {
    const { s3, proxy, client } = await useProxiedS3();
    proxy.addFault({ match: (request) => request.op === 'PutObject', action: { kind: 'status', status: 503 } });
    const put = (): Promise<unknown> => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'busy.bin', Body: bytes(1000, 1) }));

    const error = await failure(put());
    expect(error).toBeInstanceOf(S3ServiceException);
    expect(error.name).toBe('SlowDown');
    expect(error.$metadata?.httpStatusCode).toBe(503);
    await put();
    expect(proxy.requests.map((request) => request.outcome)).toEqual(['status:503', 'forwarded']);
    expect(proxy.count('PutObject')).toBe(2);
    // Only the retry reached the server.
    expect(s3.requests.map((request) => request.op)).toEqual(['PutObject']);
  });

  it('rejects flexible-checksum headers as an older store does', async () => {
    const { s3, proxy, client } = await useProxiedS3();
    proxy.rejectChecksumHeaders(true);

    const error = await failure(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'crc.bin', Body: bytes(1000, 1), ChecksumAlgorithm: 'CRC32' })));
    expect(error.name).toBe('InvalidRequest');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'plain.bin', Body: bytes(1000, 1) }));
    expect(proxy.requests.map((request) => request.outcome)).toEqual(['rejected-checksum', 'forwarded']);
  });

  it('holds a request until released, and stalls one for a while', async () => {
    const { s3, proxy, client } = await useProxiedS3();
    proxy.addFault({ match: (request) => request.key === 'held.bin', action: { kind: 'hold' } });

    const put = client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'held.bin', Body: bytes(1000, 1) }));
    const held = await proxy.waitFor((request) => request.key === 'held.bin', { timeoutMs: 5000 });
    expect(held.outcome).toBe('held');
    expect(s3.requests).toEqual([]);
    proxy.releaseHeld();
    await put;
    expect(held.outcome).toBe('forwarded');
    expect(s3.requests.map((request) => request.key)).toEqual(['held.bin']);

    proxy.addFault({ match: (request) => request.op === 'HeadObject', action: { kind: 'stall', ms: 200 } });
    const started = Date.now();
    await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'held.bin' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(proxy.requests.at(-1)?.outcome).toBe('stalled');
  });

  it('goes offline and comes back', async () => {
    const { s3, proxy, client } = await useProxiedS3();
    const put = (): Promise<unknown> => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'net.bin', Body: bytes(1000, 1) }));
    await put();

    proxy.setOffline(true);
    const error = await failure(put());
    expect(error.$metadata?.httpStatusCode).toBeUndefined();
    expect(NETWORK_ERRORS).toContain(error.code);
    proxy.setOffline(false);
    await put();
    expect(s3.requests.map((request) => request.op)).toEqual(['PutObject', 'PutObject']);
  });

  it('times out waiting for a request that never comes', async () => {
    const { proxy } = await useProxiedS3();
    await expect(proxy.waitFor((request) => request.op === 'ListParts', { timeoutMs: 50 })).rejects.toThrow(/no matching request/);
  });
});
