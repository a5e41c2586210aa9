import { z } from 'zod';

/**
 * The sync service's wire format, shared by the desktop (which sends it) and the service (which checks it):
 * one definition, so the two cannot drift. Plain zod, no Node or Electron import.
 */

/** What of an asset may be published. */
export const MEDIA_VARIANTS = ['thumb', 'preview', 'poster', 'proxy', 'original'] as const;
export type MediaVariant = (typeof MEDIA_VARIANTS)[number];

/** A server id (UUID) as it appears in paths and bodies. */
export const idSchema = z.string().min(1).max(100);
const byteCount = z.number().int('must be a whole number of bytes').min(0).max(Number.MAX_SAFE_INTEGER);
const nullableText = (max: number) => z.string().max(max, `must be at most ${max} characters`).nullable();

/** One object in the bucket: its key, size and our hash of its bytes. */
export const variantObjectSchema = z.strictObject({
  key: z.string().min(1).max(1024, 'must be at most 1024 characters'),
  size: byteCount,
  hash: z.string().min(1).max(200),
});

/** A thumbhash as base64 (standard alphabet, padded): 5 to 48 bytes, the range the format's encoder produces. */
export const thumbhashSchema = z
  .string()
  .max(64, 'must be at most 64 characters (a thumbhash is at most 48 bytes)')
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'must be base64 (A-Z, a-z, 0-9, + and /, padded with =)')
  .refine((value) => value.length >= 8, 'must be at least 8 characters (a thumbhash is at least 5 bytes)');

/** One published asset of an event's manifest (no GPS, no file name: the desktop never sends them). */
export const manifestAssetSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be the asset content hash (letters, digits, "-" and "_")'),
  kind: z.enum(['photo', 'raw', 'video'], { error: 'must be photo, raw or video' }),
  capturedAt: nullableText(40),
  width: z.number().int().min(1).max(1_000_000).nullable(),
  height: z.number().int().min(1).max(1_000_000).nullable(),
  durationSec: z.number().min(0).max(7 * 24 * 3600).nullable(),
  rating: z.number().int().min(-1).max(5),
  title: nullableText(500),
  description: nullableText(10_000),
  tags: z.array(z.string().max(200)).max(500),
  /** The server ids of the students tagged (shown to staff only; used for family access and erasure). */
  people: z.array(idSchema).max(500).default([]),
  /** The picture's thumbhash (base64 of its bytes, at most 48): the gallery paints it before the thumbnail arrives. */
  thumbhash: thumbhashSchema.nullable().optional(),
  variants: z
    .partialRecord(z.enum(MEDIA_VARIANTS, { error: `must be one of ${MEDIA_VARIANTS.join(', ')}` }), variantObjectSchema)
    .refine((variants) => Object.keys(variants).length > 0, 'must name at least one variant'),
});
/** A manifest asset as the desktop builds it. */
export type ManifestAssetInput = z.input<typeof manifestAssetSchema>;
/** A manifest asset as the service has checked it. */
export type ManifestAsset = z.output<typeof manifestAssetSchema>;

/** `PUT /v1/schools/:schoolId/events/:eventId/manifest` */
export const MAX_MANIFEST_ASSETS = 20_000;
export const manifestBodySchema = z.strictObject({
  reservationId: idSchema.optional(),
  assets: z.array(manifestAssetSchema).max(MAX_MANIFEST_ASSETS, `must have at most ${MAX_MANIFEST_ASSETS} assets`),
});

/** `POST /v1/schools/:schoolId/quota/reservations` → 201 {@link Reservation}, or 507 `quota-exceeded`. */
export const reservationRequestSchema = z.strictObject({
  eventId: idSchema,
  bytes: byteCount,
  objects: z.number().int().min(0).max(1_000_000),
});
export type ReservationRequest = z.infer<typeof reservationRequestSchema>;
export interface Reservation {
  id: string;
  bytes: number;
  expiresAt: string;
}

/** Every error the service returns. */
export interface ErrorBody {
  code: string;
  message: string;
}
