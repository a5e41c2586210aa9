import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/catalog.ts';
import { createLogger } from '../log/logger.ts';
import { MetadataReader } from '../media/metadata/metadata.service.ts';
import { makeCameraCard } from '../test/camera-card.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { ImportService } from './import.service.ts';
import { scanSource } from './source-scanner.ts';

let dir: TempDir;
let catalog: Catalog;
let service: ImportService;

beforeEach(async () => {
  dir = await tempDir('keepsake-preview-');
  catalog = Catalog.open(dir.join('library'));
  service = new ImportService({ catalog, libraryRoot: dir.join('library'), scanSource, metadata: new MetadataReader(), log: createLogger('test', () => undefined) });
});
afterEach(async () => {
  catalog.close();
  await dir.cleanup();
});

describe(`${ImportService.name}.previewNames`, () => {
  it('gives a fresh card the names the full dry run gives, for the first files only', async () => {
    await makeCameraCard(dir.join('card'), { photos: 4 });
    const quick = await service.previewNames({ source: dir.join('card'), event: 'Sports Day', renameTemplate: '{event}-{seq:3}', limit: 3 });
    const full = await service.run({ source: dir.join('card'), event: 'Sports Day', renameTemplate: '{event}-{seq:3}', dryRun: true });
    expect(quick.event).toBe('Sports Day');
    expect(quick.names).toHaveLength(3);
    expect(quick.names).toEqual(full.imported.slice(0, 3).map((file) => ({ source: file.source, destination: file.destination })));
    // Every media file counts, the duplicate on the card too: duplicates are found while copying.
    expect(quick.total).toBe(full.imported.length + full.duplicates.length);
    expect(quick.failed).toEqual(full.failed);
  });

  it('lists a file already in the library, since it hashes nothing', async () => {
    await makeCameraCard(dir.join('card'), { photos: 2 });
    const first = await service.run({ source: dir.join('card'), event: 'Sports Day', renameTemplate: '{event}-{seq:3}' });
    expect(first.imported.length).toBeGreaterThan(0);
    const again = await service.previewNames({ source: dir.join('card'), event: 'Sports Day', renameTemplate: '{event}-{seq:3}', limit: 2 });
    // The names already on disk are taken, so the preview moves past them rather than claiming them twice.
    expect(again.names).toHaveLength(2);
    expect(again.names[0]!.destination).toBe('Sports Day/Sports Day-001-2.jpg');
    const full = await service.run({ source: dir.join('card'), event: 'Sports Day', renameTemplate: '{event}-{seq:3}', dryRun: true });
    expect(full.imported).toEqual([]);
  });

  it('refuses a template it cannot render, before scanning', async () => {
    await expect(service.previewNames({ source: dir.join('no-card'), event: 'X', renameTemplate: '{nope}', limit: 5 })).rejects.toMatchObject({ code: 'invalid-input' });
  });
});
