import type { Catalog } from '../catalog/catalog.ts';
import type { SchoolEvent } from '../shared/domain.ts';
import { AppError } from '../shared/errors.ts';
import type { EventId } from '../shared/ids.ts';
import { sanitizeFileName, truncateBytes } from './rename-template.ts';

/** Finds events by name and gives new ones a folder of their own inside the library. */
export class EventFolders {
  constructor(private readonly catalog: Catalog) {}

  /** The event with this name, created (with a free folder) if needed. */
  ensure(name: string): SchoolEvent {
    const clean = name.trim();
    if (clean === '') throw new AppError('invalid-input', 'An event needs a name.');
    const found = this.catalog.events.findByName(clean);
    if (found) return found;
    return this.catalog.events.create({ name: clean, folder: this.freeFolder(clean) });
  }

  /** The event with this name, or what it would be, without creating anything (for dry runs). */
  peek(name: string): { id: EventId | null; name: string; folder: string } {
    const clean = name.trim();
    const found = this.catalog.events.findByName(clean);
    return found ?? { id: null, name: clean, folder: this.freeFolder(clean) };
  }

  private freeFolder(name: string): string {
    const base = truncateBytes(sanitizeFileName(name) || 'Event', 120);
    for (let attempt = 1; ; attempt += 1) {
      const folder = attempt === 1 ? base : `${base} (${attempt})`;
      if (!this.catalog.events.folderTaken(folder)) return folder;
    }
  }
}
