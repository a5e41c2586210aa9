import { useEffect, useRef, useState } from 'react';
import { mediaUrl } from '../bridge/keepsake.ts';
import { describeAsset, stars } from '../lib/format.ts';
import { placeholderUrl } from '../lib/thumbhash-cache.ts';
import { useGridStore } from '../stores/grid.store.ts';

/**
 * The large view of the focused asset over the grid: the preview (the thumbnail and placeholder paint first),
 * or the video's 720p proxy with its poster. The grid's keys keep working: arrows go to the neighbour,
 * ratings and flags apply, Space, Enter or Esc close it.
 */
export function Loupe(): React.JSX.Element | null {
  const id = useGridStore((s) => (s.focus >= 0 ? s.ids[s.focus] : undefined));
  const asset = useGridStore((s) => (id === undefined ? undefined : s.cache.get(id)));
  const position = useGridStore((s) => s.focus + 1);
  const total = useGridStore((s) => s.ids.length);
  const setLoupe = useGridStore((s) => s.setLoupe);
  const ref = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<number | null>(null);

  useEffect(() => {
    ref.current?.focus();
  }, []);

  if (id === undefined) return null;
  const placeholder = placeholderUrl(asset?.thumbhash);
  const backdrop = [`url("${mediaUrl(id, 'thumb')}")`, placeholder ? `url("${placeholder}")` : ''].filter(Boolean).join(', ');
  const isVideo = asset?.kind === 'video';
  return (
    <div className="loupe" role="dialog" aria-label="Preview" tabIndex={-1} ref={ref}>
      <div className="loupe-stage">
        {failed === id ? (
          <p className="loupe-failed">
            Keepsake cannot show this file{asset?.error ? `: ${asset.error}` : '.'} The original is kept as it is; copy it again from the card if it is damaged.
          </p>
        ) : isVideo ? (
          <video key={id} src={mediaUrl(id, 'proxy')} poster={mediaUrl(id, 'poster')} controls autoPlay preload="auto" aria-label={describeAsset(asset)} onError={() => setFailed(id)} />
        ) : (
          <img key={id} src={mediaUrl(id, 'preview')} alt={asset ? describeAsset(asset) : ''} decoding="async" style={{ backgroundImage: backdrop }} onError={() => setFailed(id)} />
        )}
      </div>
      <footer className="loupe-bar">
        <span className="loupe-name">{asset ? asset.title || asset.originalName : ''}</span>
        <span className="muted">
          {position.toLocaleString()} of {total.toLocaleString()}
        </span>
        <span className="loupe-stars" aria-label={asset ? `${asset.rating} stars` : undefined}>
          {asset ? stars(asset.rating) || '☆☆☆☆☆' : ''}
        </span>
        {asset && asset.flag !== 'none' ? <span className={`flag-${asset.flag}`}>{asset.flag === 'pick' ? 'Picked' : 'Rejected'}</span> : null}
        <button type="button" className="ghost" onClick={() => setLoupe(false)}>
          Close <kbd>Esc</kbd>
        </button>
      </footer>
    </div>
  );
}
