/** The closed list of error codes that may cross the IPC or HTTP boundary. */
export const ERROR_CODES = [
  'not-found',
  'invalid-input',
  'unsupported-media',
  'corrupt-media',
  'io',
  'disk-full',
  'conflict',
  'quota-exceeded',
  'unauthorized',
  'forbidden',
  'network',
  'cancelled',
  'internal',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error whose message is written for the person who reads it. */
export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The only shape that leaves the engine. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** True for an {@link AppError}, optionally of one code. */
export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}

const FS_CODES: Record<string, { code: ErrorCode; text: string }> = {
  ENOSPC: { code: 'disk-full', text: 'the disk is full' },
  EDQUOT: { code: 'disk-full', text: 'the disk quota is exhausted' },
  ENOENT: { code: 'not-found', text: 'the file or folder does not exist (was the drive removed?)' },
  EACCES: { code: 'io', text: 'permission denied' },
  EPERM: { code: 'io', text: 'operation not permitted' },
  EIO: { code: 'io', text: 'the device reported a read/write error (is the card failing or was it pulled out?)' },
  ENXIO: { code: 'io', text: 'the device is no longer available (was it unplugged?)' },
  ENODEV: { code: 'io', text: 'the device is no longer available (was it unplugged?)' },
  EROFS: { code: 'io', text: 'the destination is read-only' },
  ENAMETOOLONG: { code: 'invalid-input', text: 'the file name is too long for this file system' },
  EISDIR: { code: 'invalid-input', text: 'a folder was found where a file was expected' },
  ENOTDIR: { code: 'invalid-input', text: 'a file was found where a folder was expected' },
  EMFILE: { code: 'io', text: 'too many files are open' },
};

/** Wraps a Node error (ENOSPC, EIO, …) in an {@link AppError} that says what happened to which file. */
export function toAppError(error: unknown, what?: string): AppError {
  if (error instanceof AppError) return error;
  const errno = (error as { code?: unknown } | undefined)?.code;
  const known = typeof errno === 'string' ? FS_CODES[errno] : undefined;
  const subject = what ? `${what}: ` : '';
  if (known) return new AppError(known.code, `${subject}${known.text}`, { cause: error });
  const detail = error instanceof Error ? error.message : String(error);
  return new AppError('internal', `${subject}${detail}`, { cause: error });
}
