import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeJpeg, makePng, makeVideo, makeXmpSidecar, makeZeroByte, truncate } from './fixtures.ts';

/** What {@link makeCameraCard} put on the card, for assertions. */
export interface CameraCard {
  root: string;
  /** Good media files (photos and video) that must end up in the library. */
  media: string[];
  /** Files that must fail with a reason (zero-byte). */
  broken: string[];
  /** Junk that must be ignored silently. */
  junk: string[];
  /** A file whose content is also elsewhere on the card. */
  duplicateOnCard: string;
}

/**
 * A card as a Canon body leaves it: `DCIM/100CANON`, `DCIM/101CANON`, an XMP sidecar, a video with its THM,
 * macOS and Windows junk, a truncated JPEG, a zero-byte file, a PNG named `.JPG`, unicode and long names.
 */
export async function makeCameraCard(root: string, options: { photos?: number; width?: number; height?: number } = {}): Promise<CameraCard> {
  const photos = options.photos ?? 6;
  const dcim100 = path.join(root, 'DCIM', '100CANON');
  const dcim101 = path.join(root, 'DCIM', '101CANON');
  await mkdir(dcim100, { recursive: true });
  await mkdir(dcim101, { recursive: true });
  const media: string[] = [];
  for (let i = 1; i <= photos; i += 1) {
    const folder = i % 2 === 0 ? dcim101 : dcim100;
    const file = path.join(folder, `IMG_${String(i).padStart(4, '0')}.JPG`);
    await makeJpeg(file, {
      seed: i,
      width: options.width ?? 320,
      height: options.height ?? 240,
      exif: {
        dateTimeOriginal: `2026:05:14 10:${String(i).padStart(2, '0')}:00`,
        make: 'Canon',
        model: 'Canon EOS R6',
        gps: { latitude: 51.5, longitude: -0.12 },
      },
    });
    media.push(file);
  }
  await makeXmpSidecar(path.join(dcim100, 'IMG_0001.XMP'), { keywords: ['relay', 'final'], rating: 4, title: 'Relay final' });

  const video = await makeVideo(path.join(dcim100, 'MVI_0100.MP4'), { durationSec: 1, creationTime: '2026-05-14T09:30:00Z' });
  media.push(video);
  await makeJpeg(path.join(dcim100, 'MVI_0100.THM'), { seed: 99, width: 160, height: 120 });

  media.push(await makePng(path.join(dcim101, 'SCAN_0001.JPG'), { seed: 7 }));
  const unicode = path.join(dcim101, 'Été 🎉 médaille.jpg');
  await makeJpeg(unicode, { seed: 8 });
  media.push(unicode);
  const long = path.join(dcim101, `${'very-long-name-'.repeat(14)}.jpg`);
  await makeJpeg(long, { seed: 9 });
  media.push(long);
  const source = media[0]!;
  // A truncated JPEG is still the photographer's file: it is imported (and marked unreadable later).
  const whole = await makeJpeg(`${root}.whole.jpg`, { seed: 10, width: 640, height: 480 });
  media.push(await truncate(whole, 0.5, path.join(dcim101, 'IMG_9001.JPG')));
  await rm(whole);
  const broken = [await makeZeroByte(path.join(dcim101, 'IMG_9000.JPG'))];

  const duplicateOnCard = path.join(dcim101, 'COPY_0001.JPG');
  await copyFile(source, duplicateOnCard);

  const junk = [path.join(dcim100, '._IMG_0001.JPG'), path.join(root, '.DS_Store'), path.join(dcim100, 'Thumbs.db'), path.join(root, '.Trashes', '501', 'IMG_0003.JPG')];
  for (const file of junk) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'junk');
  }
  return { root, media, broken, junk, duplicateOnCard };
}
