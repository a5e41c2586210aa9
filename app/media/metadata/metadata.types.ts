/** What the engine knows about a media file's content, read from EXIF/XMP (photos) or ffprobe (video). */
export interface MediaMetadata {
  width?: number;
  height?: number;
  /** EXIF orientation 1–8 (1 = upright); video rotation is folded into width/height and `rotation`. */
  orientation?: number;
  /** Video rotation in degrees (0, 90, 180, 270) as stored in the container's display matrix. */
  rotation?: number;
  /** Seconds, for video. */
  durationSec?: number;
  /**
   * Capture time as an ISO-8601 string. With a known UTC offset it carries it (`2026-05-14T10:32:01+02:00`);
   * without one it is the camera's local wall-clock time with no offset (`2026-05-14T10:32:01`) and
   * `captureOffsetMin` is undefined.
   */
  capturedAt?: string;
  /** Minutes east of UTC when known (EXIF OffsetTimeOriginal, or a video's UTC creation_time → 0). */
  captureOffsetMin?: number;
  cameraMake?: string;
  cameraModel?: string;
  lens?: string;
  /** Kept in the local catalog only; never published. */
  gps?: { latitude: number; longitude: number; altitude?: number };
  /** XMP dc:subject / lr:hierarchicalSubject leaves, IPTC keywords. */
  keywords?: string[];
  /** XMP xmp:Rating, clamped to 0–5 (a reject of -1 is reported as `rejected`). */
  rating?: number;
  rejected?: boolean;
  title?: string;
  description?: string;
  /** Video and audio codec names, for the pipeline. */
  videoCodec?: string;
  audioCodec?: string;
  /** What could not be read, in plain words; present only when a reader kept going past damaged metadata. */
  warnings?: string[];
}
