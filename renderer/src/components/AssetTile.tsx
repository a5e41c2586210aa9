import { memo, useEffect, useState } from 'react';
import { mediaUrl } from '../bridge/keepsake.ts';
import { describeAsset, formatDuration, stars } from '../lib/format.ts';
import { runAfter } from '../lib/shared-timer.ts';
import { placeholderUrl } from '../lib/thumbhash-cache.ts';
import { useGridStore, type SelectMode } from '../stores/grid.store.ts';

/** How long a tile is shown before its thumbnail is requested; the placeholder paints at once. */
const ARM_MS = 80;

/** The DOM id of a tile, for the grid's aria-activedescendant. */
export function tileDomId(assetId: number): string {
  return `asset-tile-${assetId}`;
}

/**
 * One grid cell: the thumbhash placeholder at once, the thumbnail over it when it loads, and the culling
 * marks. Each tile subscribes to its own asset, focus and selection only, so a key press repaints one tile.
 */
export const AssetTile = memo(function AssetTile({ id, index, size }: { id: number; index: number; size: number }): React.JSX.Element {
  const asset = useGridStore((s) => s.cache.get(id));
  const focused = useGridStore((s) => s.focus === index);
  const selected = useGridStore((s) => s.selected.has(id));
  const thumbRevision = useGridStore((s) => s.thumbs.get(id) ?? 0);
  const select = useGridStore((s) => s.select);
  const setLoupe = useGridStore((s) => s.setLoupe);
  // A tile must stay on screen a moment before it asks for its thumbnail: a fling mounts and drops hundreds of
  // tiles a second, and each request would still make a thumbnail in the engine after the browser dropped it.
  // The tiles of a row arm together, in one render.
  const [armed, setArmed] = useState(false);
  useEffect(() => runAfter(ARM_MS, () => setArmed(true)), []);
  // The revision at which the thumbnail failed to load; a newer thumbnail (asset:thumbReady) is tried again.
  const [failedAt, setFailedAt] = useState<number | null>(null);
  const placeholder = placeholderUrl(asset?.thumbhash);
  const showImage = armed && (failedAt === null || thumbRevision > failedAt);
  const src = failedAt === null ? mediaUrl(id, 'thumb') : `${mediaUrl(id, 'thumb')}?v=${thumbRevision}`;

  const onClick = (event: React.MouseEvent): void => {
    const mode: SelectMode = event.shiftKey ? 'extend' : event.ctrlKey || event.metaKey ? 'toggle' : 'replace';
    select(index, mode);
  };
  const classes = ['tile', focused ? 'focused' : '', selected ? 'selected' : '', asset?.flag === 'reject' ? 'rejected' : ''].filter(Boolean).join(' ');
  return (
    <div
      role="gridcell"
      id={tileDomId(id)}
      className={classes}
      aria-selected={selected}
      aria-label={asset ? describeAsset(asset) : 'Loading'}
      data-asset-id={id}
      style={{ width: size, height: size }}
      onClick={onClick}
      onDoubleClick={() => {
        select(index, 'replace');
        setLoupe(true);
      }}
    >
      <div className="tile-frame" style={placeholder ? { backgroundImage: `url("${placeholder}")` } : undefined}>
        {/* Not loading="lazy": the grid mounts only the tiles near the screen, and the browser's own lazy loading
            would check every one of them again on every frame of a scroll. */}
        {showImage ? (
          <img src={src} alt="" decoding="async" draggable={false} onError={() => setFailedAt(thumbRevision)} onLoad={failedAt === null ? undefined : () => setFailedAt(null)} />
        ) : null}
      </div>
      {asset ? (
        <>
          {asset.colorLabel ? <span className={`tile-label label-${asset.colorLabel}`} aria-hidden="true" /> : null}
          {asset.flag !== 'none' ? (
            <span className={`tile-flag flag-${asset.flag}`} aria-hidden="true">
              {asset.flag === 'pick' ? '⚑' : '✕'}
            </span>
          ) : null}
          {asset.kind === 'video' ? <span className="tile-duration" aria-hidden="true">▶ {formatDuration(asset.durationSec)}</span> : null}
          {asset.status !== 'ok' ? <span className="tile-status" aria-hidden="true">{asset.status === 'unreadable' ? 'Unreadable' : 'Missing'}</span> : null}
          {asset.rating > 0 ? <span className="tile-stars" aria-hidden="true">{stars(asset.rating)}</span> : null}
        </>
      ) : null}
    </div>
  );
});
