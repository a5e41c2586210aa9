/**
 * Which engine a Kysely instance (or transaction) talks to, for the few places where portable SQL is
 * not enough: the change feed's sequence column and its per-school commit-order lock.
 */
import { PostgresAdapter, type QueryExecutorProvider } from 'kysely';

export function isPostgres(db: QueryExecutorProvider): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
