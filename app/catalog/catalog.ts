import type { Database } from 'better-sqlite3';
import { AppError } from '../shared/errors.ts';
import { AssetsRepo } from './assets.repo.ts';
import { catalogPath, openDatabase } from './database.ts';
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

  private constructor(
    readonly db: Database,
    readonly file: string,
    /** Why the catalog is read-only, when its integrity check failed. */
    readonly damage: string | null,
  ) {
    this.assets = new AssetsRepo(db);
    this.events = new EventsRepo(db);
    this.tags = new TagsRepo(db);
    this.people = new PeopleRepo(db);
    this.imports = new ImportsRepo(db);
    this.jobs = new JobsRepo(db);
    this.library = new LibraryRepo(db);
    this.search = new SearchRepo(db, this.library);
  }

  /** Opens the catalog of the library at `libraryRoot`, creating it unless `create` is false. */
  static open(libraryRoot: string, options: { create?: boolean } = {}): Catalog {
    const file = catalogPath(libraryRoot);
    const { db, damage } = openDatabase(file, options);
    return new Catalog(db, file, damage);
  }

  /** True when the catalog failed its integrity check and refuses writes. */
  get readOnly(): boolean {
    return this.damage !== null;
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
    if (this.db.open) this.db.close();
  }
}
