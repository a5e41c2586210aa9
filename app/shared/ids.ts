/** A value of T that only the catalog hands out. */
export type Brand<T, B extends string> = T & { readonly __brand: B };

/** An asset's catalog id (its row id), stable for the life of the library. */
export type AssetId = Brand<number, 'AssetId'>;
/** An event's catalog id. */
export type EventId = Brand<number, 'EventId'>;
/** A person's catalog id. */
export type PersonId = Brand<number, 'PersonId'>;
/** A tag's catalog id. */
export type TagId = Brand<number, 'TagId'>;
/** An import session's id. */
export type ImportId = Brand<number, 'ImportId'>;
/** A job's id. */
export type JobId = Brand<number, 'JobId'>;
/** A content hash: lower-case hex of XXH3-128 over the file's bytes. */
export type ContentHash = Brand<string, 'ContentHash'>;
