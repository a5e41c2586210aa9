import type { Database } from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { AppError } from '../shared/errors.ts';
import { AssetsRepo } from './assets.repo.ts';
import { CloudRepo } from './cloud.repo.ts';
import { catalogPath, damageReport, openDatabase, type OpenDatabaseOptions } from './database.ts';
import { EventsRepo } from './events.repo.ts';
import { ImportsRepo } from './imports.repo.ts';
import { JobsRepo } from './jobs.repo.ts';
import { LibraryRepo } from './library.repo.ts';
import { PeopleRepo } from './people.repo.ts';
import { SearchRepo } from './search.repo.ts';
import { TagsRepo } from './tags.repo.ts';

/** One library's catalog: its repositories over one SQLite file. */
export class Catalog {
  readonly assets: AssetsRepo;
  readonly events: EventsRepo;
  readonly tags: TagsRepo;
  readonly people: PeopleRepo;
  readonly imports: ImportsRepo;
  readonly jobs: JobsRepo;
  readonly library: LibraryRepo;
  readonly search: SearchRepo;
  /** Publications, the objects in the bucket and multipart uploads in flight. */
  readonly cloud: CloudRepo;

  /**
   * Resolves with the damage report, or null, once the integrity check is done: at once for catalogs checked
   * before opening, after a few seconds for large ones checked in the background.
   */
  readonly integrity: Promise<string | null>;
  private damageText: string | null;
  private checker: Worker | null = null;
  private readonly damageListeners = new Set<(damage: string) => void>();

  private constructor(
    readonly db: Database,
    readonly file: string,
    damage: string | null,
    checkDeferred: boolean,
  ) {
    this.damageText = damage;
    this.integrity = checkDeferred ? this.checkInBackground() : Promise.resolve(damage);
    this.assets = new AssetsRepo(db);
    this.events = new EventsRepo(db);
    this.tags = new TagsRepo(db);
    this.people = new PeopleRepo(db);
    this.imports = new ImportsRepo(db);
    this.jobs = new JobsRepo(db);
    this.library = new LibraryRepo(db);
    this.search = new SearchRepo(db, this.library);
    this.cloud = new CloudRepo(db);
  }

  /** Opens the catalog of the library at `libraryRoot`, creating it unless `create` is false. */
  static open(libraryRoot: string, options: OpenDatabaseOptions = {}): Catalog {
    const file = catalogPath(libraryRoot);
    const { db, damage, checkDeferred } = openDatabase(file, options);
    return new Catalog(db, file, damage, checkDeferred);
  }

  /** Why the catalog is read-only, when its integrity check failed; null while it is sound (or still being checked). */
  get damage(): string | null {
    return this.damageText;
  }

  /** True when the catalog failed its integrity check and refuses writes. */
  get readOnly(): boolean {
    return this.damageText !== null;
  }

  /** Calls `listener` if a background integrity check finds damage; returns a function that stops listening. */
  onDamage(listener: (damage: string) => void): () => void {
    this.damageListeners.add(listener);
    return () => this.damageListeners.delete(listener);
  }

  private checkInBackground(): Promise<string | null> {
    return new Promise((resolve) => {
      const worker = new Worker(new URL('./integrity.worker.mjs', import.meta.url), { workerData: { file: this.file } });
      // A short command (status, search) must not wait for the check to finish before it exits.
      worker.unref();
      this.checker = worker;
      const settle = (problems: string[] | null): void => {
        this.checker = null;
        if (problems === null || problems.length === 0 || !this.db.open) return resolve(null);
        const report = damageReport(problems);
        // From here on nothing is written to the damaged file.
        this.db.pragma('query_only = ON');
        this.damageText = report;
        for (const listener of this.damageListeners) listener(report);
        resolve(report);
      };
      worker.once('message', (message: { problems: string[] }) => settle(message.problems));
      worker.once('error', () => settle(null));
      worker.once('exit', () => settle(null));
    });
  }

  /** Throws the damage report if the catalog cannot be written. */
  assertWritable(): void {
    if (this.damage) throw new AppError('io', this.damage);
  }

  /** Runs `fn` in one transaction (immediate, so concurrent writers queue instead of failing). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Closes the file; the catalog must not be used afterwards. */
  close(): void {
    void this.checker?.terminate();
    this.checker = null;
    if (this.db.open) this.db.close();
  }
}
