import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { makeJpeg, makeRandomBytes, makeXmpSidecar, useTempDir } from '../../test/fixtures.ts';
import { readPhotoMetadata } from './photo-metadata.ts';
import { findXmpSidecar, mergeMetadata, parseXmp, readXmpSidecar } from './sidecar.ts';

// As Lightroom Classic writes it: rating as an attribute, lang-alt title and description, two languages.
const LIGHTROOM = `<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        ">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   xmp:Rating="3"
   crs:Exposure2012="+0.35">
   <dc:title>
    <rdf:Alt>
     <rdf:li xml:lang="fr-FR">Relais</rdf:li>
     <rdf:li xml:lang="x-default">Relay &amp; finish</rdf:li>
    </rdf:Alt>
   </dc:title>
   <dc:description>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">Year 5 &#8220;relay&#8221;</rdf:li>
    </rdf:Alt>
   </dc:description>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>relay</rdf:li>
     <rdf:li>2026</rdf:li>
     <rdf:li>007</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Events|Sports day|Relay</rdf:li>
     <rdf:li>relay</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`;

describe(readXmpSidecar.name, () => {
  it('reads keywords, rating, title and description from a Lightroom sidecar', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    const path = dir.join('IMG_0001.xmp');
    await writeFile(path, LIGHTROOM);
    expect(await readXmpSidecar(path)).toEqual({
      keywords: ['relay', '2026', '007', 'Relay'],
      rating: 3,
      title: 'Relay & finish',
      description: 'Year 5 \u201crelay\u201d',
    });
  });

  it('reads a sidecar written by the fixtures', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    const path = await makeXmpSidecar(dir.join('IMG_0002.xmp'), { keywords: ['choir'], hierarchicalKeywords: ['People|Year 6'], rating: 5, title: 'Choir' });
    expect(await readXmpSidecar(path)).toEqual({ keywords: ['choir', 'Year 6'], rating: 5, title: 'Choir' });
  });

  it('reports a rating of -1 as rejected', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    const path = await makeXmpSidecar(dir.join('a.xmp'), { rating: -1 });
    expect(await readXmpSidecar(path)).toEqual({ rejected: true });
  });

  it('rejects a file that is not XMP with corrupt-media', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    await expect(readXmpSidecar(await makeRandomBytes(dir.join('a.xmp')))).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/"a\.xmp" is not an XMP file/) });
  });

  it('rejects a missing sidecar with not-found', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    await expect(readXmpSidecar(dir.join('gone.xmp'))).rejects.toMatchObject({ name: 'AppError', code: 'not-found' });
  });
});

describe(parseXmp.name, () => {
  it('reads the rating written as an element and under a non-standard prefix', () => {
    const xmp = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <rdf:Description xmlns:basic="http://ns.adobe.com/xap/1.0/" xmlns:d="http://purl.org/dc/elements/1.1/">
      <basic:Rating>2</basic:Rating><d:subject><rdf:Bag><rdf:li>art</rdf:li></rdf:Bag></d:subject>
      </rdf:Description></rdf:RDF></x:xmpmeta>`;
    expect(parseXmp(xmp)).toEqual({ rating: 2, keywords: ['art'] });
  });

  it('clamps ratings above 5', () => {
    expect(parseXmp('<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="9"/>')).toEqual({ rating: 5 });
  });

  it('returns nothing for an empty packet', () => {
    expect(parseXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>')).toEqual({});
  });

  it('takes linear time on a malformed packet', () => {
    // Unclosed list items send backtracking XMP parsers into quadratic time; a megabyte of them must stay cheap.
    const malformed = `<x:xmpmeta><rdf:RDF><rdf:Description><dc:subject><rdf:Bag>${'<rdf:li>'.repeat(130_000)}</dc:subject>`;
    const started = performance.now();
    expect(parseXmp(malformed)).toEqual({});
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe(mergeMetadata.name, () => {
  it('lets the sidecar win field by field and keeps what it does not set', () => {
    const embedded = { width: 640, height: 480, capturedAt: '2026-05-14T10:32:01+02:00', keywords: ['old'], title: 'Old', description: 'Kept' };
    expect(mergeMetadata(embedded, { keywords: ['new'], title: 'New' })).toEqual({
      width: 640,
      height: 480,
      capturedAt: '2026-05-14T10:32:01+02:00',
      keywords: ['new'],
      title: 'New',
      description: 'Kept',
    });
  });

  it('lets a sidecar rating lift an embedded reject', () => {
    expect(mergeMetadata({ rejected: true }, { rating: 2 })).toEqual({ rating: 2 });
  });

  it('lets a sidecar reject replace an embedded rating', () => {
    expect(mergeMetadata({ rating: 4 }, { rejected: true })).toEqual({ rejected: true });
  });

  it('returns the embedded metadata when there is no sidecar', () => {
    const embedded = { rating: 4 };
    expect(mergeMetadata(embedded, undefined)).toBe(embedded);
  });

  it('lets a sidecar win over embedded XMP read from a real file', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    const photo = await makeJpeg(dir.join('IMG_0003.jpg'), { xmp: { keywords: ['embedded'], rating: 1, title: 'Embedded', description: 'From the camera' } });
    const sidecar = await makeXmpSidecar(dir.join('IMG_0003.xmp'), { keywords: ['sidecar'], rating: 5, title: 'Sidecar' });
    expect(mergeMetadata(await readPhotoMetadata(photo), await readXmpSidecar(sidecar))).toMatchObject({
      keywords: ['sidecar'],
      rating: 5,
      title: 'Sidecar',
      description: 'From the camera',
    });
  });
});

describe(findXmpSidecar.name, () => {
  it('finds a sidecar named after the stem, as Lightroom writes it', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    const sidecar = await makeXmpSidecar(dir.join('IMG_0001.xmp'), { rating: 1 });
    expect(await findXmpSidecar(dir.join('IMG_0001.CR2'))).toBe(sidecar);
  });

  it('finds a sidecar named after the whole file name, as darktable writes it', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    const sidecar = await makeXmpSidecar(dir.join('IMG_0001.CR2.xmp'), { rating: 1 });
    expect(await findXmpSidecar(dir.join('IMG_0001.CR2'))).toBe(sidecar);
  });

  it('returns undefined when there is none', async () => {
    const dir = await useTempDir('keepsake-sidecar-');
    expect(await findXmpSidecar(dir.join('IMG_0001.CR2'))).toBeUndefined();
  });
});
