import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigError } from './config.ts';

describe('S3 and media settings', () => {
  it('leaves S3 unset by default and signs URLs for 300 s', () => {
    const config = loadConfig({});
    expect(config.s3).toBeUndefined();
    expect(config.media).toEqual({ urlTtlSeconds: 300, cdnBaseUrl: undefined });
  });

  it('reads the bucket, endpoint, path style and credentials (S3_* over AWS_*)', () => {
    const config = loadConfig({
      S3_BUCKET: 'keepsake-media',
      S3_ENDPOINT: 'http://minio:9000/',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'aws-id',
      AWS_SECRET_ACCESS_KEY: 'aws-secret',
      S3_ACCESS_KEY_ID: 's3-id',
      S3_SECRET_ACCESS_KEY: 's3-secret',
      MEDIA_URL_TTL_SECONDS: '120',
      CDN_BASE_URL: 'https://cdn.example.test/',
    });
    expect(config.s3).toEqual({
      bucket: 'keepsake-media',
      region: 'us-east-1',
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 's3-id', secretAccessKey: 's3-secret' },
    });
    expect(config.media).toEqual({ urlTtlSeconds: 120, cdnBaseUrl: 'https://cdn.example.test' });
    expect(loadConfig({ S3_BUCKET: 'b-1', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }).s3?.credentials).toEqual({ accessKeyId: 'a', secretAccessKey: 'b' });
  });

  it('names every bad S3 variable and never echoes a secret', () => {
    let problems: string[] = [];
    try {
      loadConfig({ S3_BUCKET: 'Bad_Bucket', MEDIA_URL_TTL_SECONDS: '999999999', S3_FORCE_PATH_STYLE: 'yes', S3_SECRET_ACCESS_KEY: '' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems.map((p) => p.split(':')[0])).toEqual(['S3_BUCKET', 'S3_FORCE_PATH_STYLE', 'MEDIA_URL_TTL_SECONDS']);
    expect(() => loadConfig({ S3_BUCKET: 'bucket', S3_ACCESS_KEY_ID: 'id' })).toThrow(/set both or neither/);
    expect(() => loadConfig({ S3_ENDPOINT: 'http://minio:9000' })).toThrow(/S3_BUCKET: required/);
    try {
      loadConfig({ S3_BUCKET: 'bucket', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'x', CDN_BASE_URL: 'ftp://nope' });
    } catch (error) {
      expect((error as Error).message).not.toMatch(/"x"/);
    }
  });
});
