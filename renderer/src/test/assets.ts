import type { Asset, Person } from '../../../app/shared/domain.ts';
import type { AssetId, ContentHash, EventId, PersonId } from '../../../app/shared/ids.ts';

/** A catalog asset for unit tests, with `overrides` on top of a plain readable photo. */
export function testAsset(id: number, overrides: Partial<Asset> = {}): Asset {
  return {
    id: id as AssetId,
    hash: `hash${id}` as ContentHash,
    eventId: 1 as EventId,
    path: `Sports Day/IMG_${String(id).padStart(4, '0')}.jpg`,
    originalName: `IMG_${String(id).padStart(4, '0')}.JPG`,
    size: 1_000_000,
    mtimeMs: 0,
    kind: 'photo',
    mime: 'image/jpeg',
    width: 6000,
    height: 4000,
    orientation: 1,
    durationSec: null,
    capturedAt: '2026-05-14T10:00:00',
    captureOffsetMin: null,
    sortTime: id,
    cameraMake: 'Canon',
    cameraModel: 'Canon EOS R6',
    lens: null,
    gps: null,
    rating: 0,
    flag: 'none',
    colorLabel: null,
    title: null,
    description: null,
    status: 'ok',
    error: null,
    thumbhash: null,
    importedAt: '2026-05-14T12:00:00Z',
    updatedAt: '2026-05-14T12:00:00Z',
    ...overrides,
  };
}

/** A roster entry for unit tests. */
export function testPerson(id: number, name: string, publish: boolean): Person {
  return { id: id as PersonId, name, classGroup: '4B', familyEmail: null, remoteId: null, consent: { publish, yearbook: false } };
}
