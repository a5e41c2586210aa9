import { useEffect, useRef, useState } from 'react';
import type { CameraCard } from '../../../app/shared/views.ts';
import { bridge, call } from '../bridge/keepsake.ts';
import { formatBytes } from '../lib/format.ts';
import { useImportStore } from '../stores/import.store.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { useDialogFocus } from './dialog-focus.ts';
import { count } from './progress-text.ts';

/** "Import 1,204 photos from EOS_DIGITAL?" ("at least" when the quick count stopped at its cap). */
export function cardQuestion(card: CameraCard): string {
  const photos = `${card.partial ? 'at least ' : ''}${count(card.mediaCount)} ${card.mediaCount === 1 ? 'photo' : 'photos'}`;
  return `Import ${photos} from ${card.label}?`;
}

/**
 * Offers to import a camera card when the engine sees one mounted (`volume:inserted`, and on load the cards
 * already there); gone when the card is removed. "Not now" is remembered for that card until it is removed.
 */
export function CardPrompt(): React.JSX.Element | null {
  const [cards, setCards] = useState<CameraCard[]>([]);
  const dismissed = useRef(new Set<string>());
  const importButton = useRef<HTMLButtonElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  const go = useNavStore((s) => s.go);
  const prefill = useImportStore((s) => s.prefill);

  useEffect(() => {
    const add = (card: CameraCard): void => {
      if (dismissed.current.has(card.path)) return;
      setCards((current) => [...current.filter((known) => known.path !== card.path), card]);
    };
    const offInserted = bridge().on('volume:inserted', add);
    const offRemoved = bridge().on('volume:removed', (removed) => {
      dismissed.current.delete(removed.path);
      setCards((current) => current.filter((card) => card.path !== removed.path));
    });
    void call('volumes:list', {}).then(
      (present) => present.filter((card) => card.mediaCount > 0).forEach(add),
      () => undefined,
    );
    return () => {
      offInserted();
      offRemoved();
    };
  }, []);

  const card = cards[0];
  useDialogFocus(dialog, importButton, card !== undefined);
  if (!card) return null;

  const later = (): void => {
    dismissed.current.add(card.path);
    setCards((current) => current.filter((known) => known.path !== card.path));
  };
  const accept = (): void => {
    later();
    prefill({ source: card.path });
    go({ name: 'import', source: card.path });
  };
  return (
    <div className="overlay" onKeyDown={(event) => event.key === 'Escape' && later()}>
      <div ref={dialog} className="dialog card-prompt" role="dialog" aria-modal="true" aria-labelledby="card-prompt-title" aria-describedby="card-prompt-detail">
        <h2 id="card-prompt-title">{cardQuestion(card)}</h2>
        <p id="card-prompt-detail" className="muted">
          {card.partial ? 'More than ' : ''}
          {formatBytes(card.bytes)} on the card at {card.path}.
        </p>
        <div className="row end">
          <button type="button" onClick={later}>
            Not now
          </button>
          <button ref={importButton} type="button" className="primary" onClick={accept}>
            Import
          </button>
        </div>
      </div>
    </div>
  );
}
