/**
 * Request validation with zod. Body schemas are strict objects: an unknown key is a 400, so a
 * `role`, `schoolId` or `version` slipped into a body is refused rather than silently honoured or
 * silently dropped (mass assignment).
 */
import type { z } from 'zod';
import { ApiError } from '../errors.ts';

/** The parsed value, or a 400 whose message names each bad field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown, what = 'request body'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : undefined;
    return field === undefined ? issue.message : `${field}: ${issue.message}`;
  });
  throw new ApiError('invalid-input', `Invalid ${what}: ${problems.join('; ')}`);
}
