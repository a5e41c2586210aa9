import { describe, expect, it } from 'vitest';
import { decideNavigation } from './window-policy.ts';

describe(decideNavigation.name, () => {
  it('sends https links to the system browser', () => {
    expect(decideNavigation('https://greenfield.example/gallery/sports-day')).toEqual({ action: 'open-external', url: 'https://greenfield.example/gallery/sports-day' });
  });

  it('denies everything else, the app’s own pages included', () => {
    for (const url of ['http://greenfield.example/', 'file:///etc/passwd', 'keepsake://app/index.html', 'javascript:alert(1)', 'mailto:a@b.c', 'smb://server/share', 'https://user:pw@evil.example/', 'not a url']) {
      expect(decideNavigation(url), url).toEqual({ action: 'deny' });
    }
  });
});
