import { z } from 'zod';
import type { LibraryRepo } from '../catalog/library.repo.ts';
import { AppError } from '../shared/errors.ts';

const MiB = 1024 * 1024;

/** S3's own limits: a part is 5 MiB to 5 GiB (the last may be smaller), at most 10,000 of them. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;

/** Storage classes an original may be sent with (AWS names; other stores accept STANDARD at least). */
export const STORAGE_CLASSES = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

/**
 * Where and how a library publishes. Kept in the catalog (`meta`), so a catalog backup carries it; the
 * credentials are not here: they come from a {@link CredentialsProvider}.
 */
export const cloudSettingsSchema = z.object({
  /** `https://s3.eu-west-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`; empty for AWS's default. */
  endpoint: z.string().url().nullable().default(null),
  region: z.string().min(1).default('us-east-1'),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name is 3–63 lower-case letters, digits, dots and hyphens'),
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most self-hosted stores need. */
  pathStyle: z.boolean().default(false),
  /** The school's id in the key layout `schools/{school}/…`. */
  school: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'a school id is letters, digits, "-" and "_"'),
  /** Whether the school's plan lets originals (stripped copies) be published. */
  allowOriginals: z.boolean().default(false),
  originalsStorageClass: z.enum(STORAGE_CLASSES).default('STANDARD'),
  /** Requests in flight at once, over all files. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Upload bandwidth limit in KB/s (1 KB = 1,000 bytes); null for none. */
  limitKbps: z.number().int().positive().nullable().default(null),
  /** Preferred part size in MiB; raised when a file would need more than 10,000 parts. */
  partSizeMiB: z.number().int().min(5).max(5120).default(16),
  /**
   * Flexible checksums (`x-amz-checksum-crc32`) on every part and object: `auto` sends them until the store
   * rejects them, then remembers `off`. Content-MD5 and the ETag check are used either way.
   */
  checksums: z.enum(['auto', 'off']).default('auto'),
  /** Seconds without a byte before a request is given up and retried. */
  requestTimeoutSec: z.number().positive().default(120),
});

export type CloudSettings = z.infer<typeof cloudSettingsSchema>;

const SETTINGS_KEY = 'cloud.settings';

/** The library's cloud settings, or null when it has none yet. */
export function loadCloudSettings(library: LibraryRepo): CloudSettings | null {
  const raw = library.getMeta(SETTINGS_KEY);
  if (raw === undefined) return null;
  const parsed = cloudSettingsSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new AppError('invalid-input', `The cloud settings in the catalog are invalid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The cloud settings, or a clear error telling how to set them. */
export function requireCloudSettings(library: LibraryRepo): CloudSettings {
  const settings = loadCloudSettings(library);
  if (!settings) {
    throw new AppError('invalid-input', 'This library has no cloud storage set up yet: run `keepsake cloud config --bucket NAME --school ID [--endpoint URL]`.');
  }
  return settings;
}

/** Merges `changes` into the stored settings (validating the whole) and saves them. */
export function saveCloudSettings(library: LibraryRepo, changes: Partial<CloudSettings>): CloudSettings {
  const current = loadCloudSettings(library) ?? {};
  const parsed = cloudSettingsSchema.safeParse({ ...current, ...changes });
  if (!parsed.success) throw new AppError('invalid-input', `Invalid cloud settings: ${z.prettifyError(parsed.error)}`);
  library.setMeta(SETTINGS_KEY, JSON.stringify(parsed.data));
  return parsed.data;
}

/** Each setting's message, for a form: what is wrong with the value, in words its reader understands. */
export type CloudSettingsErrors = Partial<Record<keyof CloudSettings, string>>;

const FIELD_MESSAGES: Partial<Record<keyof CloudSettings, string>> = {
  endpoint: 'The endpoint is a URL such as https://s3.eu-west-1.amazonaws.com (leave it empty for AWS).',
  region: 'The region is letters, digits and hyphens, such as eu-west-1 (or auto for R2).',
  bucket: 'A bucket name is 3–63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.',
  school: 'The school id is letters, digits, "-" and "_" (at most 64), as in the key layout schools/{school}/….',
  originalsStorageClass: `The storage class is one of ${STORAGE_CLASSES.join(', ')}.`,
  concurrency: 'Requests at once is a whole number from 1 to 64.',
  limitKbps: 'The bandwidth limit is a whole number of KB/s above 0 (or empty for no limit).',
  partSizeMiB: 'The part size is a whole number of MiB from 5 to 5120.',
  requestTimeoutSec: 'The request timeout is a number of seconds above 0.',
};

/**
 * Checks `changes` over the stored settings as {@link saveCloudSettings} would, and says what is wrong field
 * by field. Stricter than the stored schema where a form can be: a region must look like one, and an
 * endpoint must be http(s) (the SDK would take ftp:// and fail later with a puzzling error).
 */
export function validateCloudSettings(current: CloudSettings | null, changes: Partial<CloudSettings>): { settings: CloudSettings; errors: null } | { settings: null; errors: CloudSettingsErrors } {
  const errors: CloudSettingsErrors = {};
  const parsed = cloudSettingsSchema.safeParse({ ...current, ...changes });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path[0] as keyof CloudSettings | undefined;
      if (field === undefined || errors[field]) continue;
      errors[field] = issue.code === 'invalid_type' && issue.input === undefined ? `The ${field === 'bucket' ? 'bucket' : 'school id'} is needed.` : (FIELD_MESSAGES[field] ?? issue.message);
    }
  }
  const merged = { ...current, ...changes };
  if (typeof merged.region === 'string' && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(merged.region)) errors.region ??= FIELD_MESSAGES.region!;
  if (typeof merged.endpoint === 'string' && !/^https?:\/\//i.test(merged.endpoint)) errors.endpoint ??= FIELD_MESSAGES.endpoint!;
  if (Object.keys(errors).length > 0 || !parsed.success) return { settings: null, errors };
  return { settings: parsed.data, errors: null };
}

/**
 * The part size for a file: the preferred size, raised to a whole MiB so the file fits in 10,000 parts.
 * Throws for a file larger than S3 can hold (5 TiB).
 */
export function partSizeFor(fileSize: number, preferred: number): number {
  let size = Math.max(MIN_PART_SIZE, preferred);
  if (Math.ceil(fileSize / size) > MAX_PARTS) size = Math.ceil(fileSize / MAX_PARTS / MiB) * MiB;
  if (size > MAX_PART_SIZE) throw new AppError('invalid-input', `A file of ${fileSize} bytes is larger than an S3 object can be (5 TiB).`);
  return size;
}
