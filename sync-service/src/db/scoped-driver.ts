/**
 * PostgreSQL connections that carry the tenant scope (`tenant-scope.ts`) to the database, where the
 * row-level security policies of migration 0008 read it back with `current_setting('keepsake.school_id')`.
 *
 * Before each statement the current scope is compared with the value the connection was last told;
 * only when they differ is `select set_config('keepsake.school_id', $1, false)` sent first. So a run of
 * one school's queries costs no extra round trip, and the scope follows each query, inside a transaction
 * too (an `asService` lookup in a school's transaction sees every school for that query only). The value
 * always travels as a bind parameter, never as SQL text.
 *
 * A setting changed inside a transaction is undone by its rollback (or by a rollback to a savepoint),
 * so after either the connection's last value is forgotten and told again on its next statement.
 */
import {
  CompiledQuery,
  PostgresDialect,
  PostgresDriver,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { currentScope, NO_SCOPE, type ScopeSetting } from './tenant-scope.ts';

/** The custom setting the policies read. */
export const SCOPE_SETTING_NAME = 'keepsake.school_id';

export interface ScopedPostgresConfig extends PostgresDialectConfig {
  /**
   * The scope of queries run outside any `withSchool`/`asService`/`withoutScope`: no tenant rows
   * (`''`, the default and the service's setting). Only test fixtures, which seed rows directly, pass
   * the service wildcard here; the app still opens an explicit scope for every request.
   */
  outsideScope?: ScopeSetting;
}

/** The pg driver's own connection type (not exported by Kysely). */
type PgConnection = Parameters<PostgresDriver['releaseConnection']>[0];

/** A pooled connection that tells the database the caller's scope before each statement. */
class ScopedConnection implements DatabaseConnection {
  constructor(
    readonly inner: PgConnection,
    private readonly tell: (connection: PgConnection) => Promise<void>,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    await this.tell(this.inner);
    return this.inner.executeQuery<R>(query);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    await this.tell(this.inner);
    yield* this.inner.streamQuery<R>(query, chunkSize);
  }
}

/** Kysely's pg driver, handing out {@link ScopedConnection}s. */
class ScopedDriver extends PostgresDriver {
  /** What each pooled connection was last told; a connection not in here was told nothing yet. */
  readonly #told = new WeakMap<PgConnection, ScopeSetting>();
  /** One wrapper per pooled connection, so Kysely sees the same object each time. */
  readonly #wrappers = new WeakMap<PgConnection, ScopedConnection>();
  readonly #outside: ScopeSetting;

  constructor(config: PostgresDialectConfig, outside: ScopeSetting) {
    super(config);
    this.#outside = outside;
  }

  /** Sends the caller's scope to `connection` unless it already has it. */
  readonly #tell = async (connection: PgConnection): Promise<void> => {
    const scope = currentScope(this.#outside);
    if (this.#told.get(connection) === scope) return;
    // Unknown until it succeeds (a failed statement inside a transaction leaves it aborted anyway).
    this.#told.delete(connection);
    await connection.executeQuery(CompiledQuery.raw(`select set_config('${SCOPE_SETTING_NAME}', $1, false)`, [scope]));
    this.#told.set(connection, scope);
  };

  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = (await super.acquireConnection()) as PgConnection;
    let wrapper = this.#wrappers.get(inner);
    if (wrapper === undefined) {
      wrapper = new ScopedConnection(inner, this.#tell);
      this.#wrappers.set(inner, wrapper);
    }
    return wrapper;
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const inner = unwrap(connection);
    // Told before `begin`, the common case stays outside the transaction and survives its rollback.
    await this.#tell(inner);
    await super.beginTransaction(inner, settings);
  }

  override commitTransaction(connection: DatabaseConnection): Promise<void> {
    return super.commitTransaction(unwrap(connection));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const inner = unwrap(connection);
    this.#told.delete(inner);
    await super.rollbackTransaction(inner);
  }

  override savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    return super.savepoint(unwrap(connection), name, compile);
  }

  override async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    const inner = unwrap(connection);
    this.#told.delete(inner);
    await super.rollbackToSavepoint(inner, name, compile);
  }

  override releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    return super.releaseSavepoint(unwrap(connection), name, compile);
  }

  override releaseConnection(connection: DatabaseConnection): Promise<void> {
    return super.releaseConnection(unwrap(connection));
  }
}

function unwrap(connection: DatabaseConnection): PgConnection {
  return connection instanceof ScopedConnection ? connection.inner : (connection as PgConnection);
}

/** Kysely's PostgreSQL dialect, with connections that follow the tenant scope. */
export class ScopedPostgresDialect extends PostgresDialect {
  readonly #config: ScopedPostgresConfig;

  constructor(config: ScopedPostgresConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ScopedDriver(this.#config, this.#config.outsideScope ?? NO_SCOPE);
  }
}
