import { useEffect, useRef, useState } from 'react';
import type { AssetDetail } from '../../../app/ipc/contract.ts';
import { formatBytes, formatCaptured, formatDuration, plural } from '../lib/format.ts';
import { DETAIL_SAMPLE, personCounts, sharedValue, tagCounts, useMetadataStore } from '../stores/metadata.store.ts';
import { ErrorNote } from './ErrorNote.tsx';

/**
 * The details of what is selected: capture data, title, description, tags and people. With several assets
 * selected every edit applies to all of them, and values that differ are shown as mixed. `tagRequest`
 * changes when the grid's T key asks for the tag entry.
 */
export function MetadataPanel({ ids, tagRequest = 0, onDone }: { ids: readonly number[]; tagRequest?: number; onDone?: () => void }): React.JSX.Element {
  const load = useMetadataStore((s) => s.load);
  const details = useMetadataStore((s) => s.details);
  const status = useMetadataStore((s) => s.status);
  const error = useMetadataStore((s) => s.error);
  const dismissError = useMetadataStore((s) => s.dismissError);
  const tagInput = useRef<HTMLInputElement>(null);
  // The key changes with the selection, not with every render of a new array holding the same ids.
  const key = `${ids.length}:${ids.slice(0, DETAIL_SAMPLE).join(',')}`;

  const latest = useRef(ids);
  latest.current = ids;
  useEffect(() => {
    void load(latest.current);
  }, [key, load]);

  useEffect(() => {
    if (tagRequest > 0) tagInput.current?.focus();
  }, [tagRequest]);

  if (ids.length === 0) {
    return (
      <aside className="panel" aria-label="Details">
        <p className="muted">Select a photo or video to see its details.</p>
      </aside>
    );
  }
  const single = ids.length === 1 ? details[0] : undefined;
  return (
    <aside className="panel" aria-label="Details" aria-busy={status === 'loading'}>
      <h2 className="panel-title">{single ? single.asset.originalName : `${ids.length.toLocaleString()} selected`}</h2>
      {ids.length > DETAIL_SAMPLE ? <p className="muted small">Mixed values are worked out from the first {DETAIL_SAMPLE}; edits apply to all {ids.length.toLocaleString()}.</p> : null}
      {error ? <ErrorNote error={error} onDismiss={dismissError} /> : null}
      {single ? <CaptureData detail={single} /> : <BatchSummary details={details} />}
      {details.length > 0 ? (
        <>
          <TextField key={`title-${key}`} field="title" label="Title" details={details} onDone={onDone} />
          <TextField key={`description-${key}`} field="description" label="Description" details={details} multiline onDone={onDone} />
          <Tags details={details} inputRef={tagInput} onDone={onDone} />
          <People details={details} onDone={onDone} />
        </>
      ) : (
        <p className="muted">Loading…</p>
      )}
    </aside>
  );
}

function CaptureData({ detail }: { detail: AssetDetail }): React.JSX.Element {
  const { asset } = detail;
  const camera = [asset.cameraMake, asset.cameraModel?.startsWith(asset.cameraMake ?? '\u0000') ? asset.cameraModel.slice((asset.cameraMake ?? '').length).trim() : asset.cameraModel]
    .filter(Boolean)
    .join(' ');
  const rows: Array<[string, string]> = [
    ['Taken', formatCaptured(asset.capturedAt)],
    ['Camera', camera || 'Unknown'],
    ...(asset.lens ? ([['Lens', asset.lens]] as Array<[string, string]>) : []),
    ['Size', asset.width && asset.height ? `${asset.width} × ${asset.height} · ${formatBytes(asset.size)}` : formatBytes(asset.size)],
    ...(asset.kind === 'video' ? ([['Duration', formatDuration(asset.durationSec)]] as Array<[string, string]>) : []),
    ['File', asset.path],
  ];
  return (
    <>
      {asset.status !== 'ok' ? (
        <p className="panel-warning" role="status">
          {asset.status === 'unreadable' ? `This file cannot be read${asset.error ? `: ${asset.error}` : ''}.` : 'The file is missing from its folder; reconnect the drive or put it back.'}
        </p>
      ) : null}
      <dl className="capture">
        {rows.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd title={value}>{value}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}

function BatchSummary({ details }: { details: readonly AssetDetail[] }): React.JSX.Element | null {
  if (details.length === 0) return null;
  const videos = details.filter((d) => d.asset.kind === 'video').length;
  const times = details.map((d) => d.asset.capturedAt).filter((t): t is string => t !== null).sort();
  return (
    <dl className="capture">
      <div>
        <dt>Kinds</dt>
        <dd>{[plural(details.length - videos, 'photo'), videos > 0 ? plural(videos, 'video') : ''].filter(Boolean).join(', ')}</dd>
      </div>
      {times.length > 0 ? (
        <div>
          <dt>Taken</dt>
          <dd>{times[0] === times.at(-1) ? formatCaptured(times[0]!) : `${formatCaptured(times[0]!)} – ${formatCaptured(times.at(-1)!)}`}</dd>
        </div>
      ) : null}
    </dl>
  );
}

function TextField({ field, label, details, multiline = false, onDone }: { field: 'title' | 'description'; label: string; details: readonly AssetDetail[]; multiline?: boolean; onDone?: (() => void) | undefined }): React.JSX.Element {
  const setText = useMetadataStore((s) => s.setText);
  const shared = sharedValue(details, (d) => d.asset[field] ?? '');
  const original = shared.mixed ? '' : shared.value;
  const [draft, setDraft] = useState(original);
  useEffect(() => setDraft(original), [original]);

  const commit = (): void => {
    // A mixed field left empty keeps each asset's own value; typing replaces them all.
    if (draft === original || (shared.mixed && draft === '')) return;
    void setText(field, draft.trim() === '' ? null : draft);
  };
  const onKeyDown = (event: React.KeyboardEvent): void => {
    if (event.key === 'Escape') {
      setDraft(original);
      onDone?.();
    } else if (event.key === 'Enter' && (!multiline || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      commit();
      onDone?.();
    }
  };
  const placeholder = shared.mixed ? 'Mixed — type to set on all' : `Add a ${label.toLowerCase()}`;
  return (
    <label className="field">
      {label}
      {multiline ? (
        <textarea rows={3} value={draft} placeholder={placeholder} onChange={(e) => setDraft(e.target.value)} onBlur={commit} onKeyDown={onKeyDown} />
      ) : (
        <input type="text" value={draft} placeholder={placeholder} onChange={(e) => setDraft(e.target.value)} onBlur={commit} onKeyDown={onKeyDown} />
      )}
    </label>
  );
}

function Tags({ details, inputRef, onDone }: { details: readonly AssetDetail[]; inputRef: React.RefObject<HTMLInputElement | null>; onDone?: (() => void) | undefined }): React.JSX.Element {
  const addTags = useMetadataStore((s) => s.addTags);
  const removeTag = useMetadataStore((s) => s.removeTag);
  const [draft, setDraft] = useState('');
  const tags = tagCounts(details);
  const onKeyDown = (event: React.KeyboardEvent): void => {
    if (event.key === 'Enter') {
      event.preventDefault();
      const value = draft;
      setDraft('');
      void addTags(value.split(','));
    } else if (event.key === 'Escape') {
      setDraft('');
      onDone?.();
    }
  };
  return (
    <section className="field" aria-label="Tags">
      <span className="field-name">Tags</span>
      <ul className="chips">
        {tags.map(({ tag, count }) => (
          <li key={tag} className={count < details.length ? 'chip partial' : 'chip'} title={count < details.length ? `On ${count} of ${details.length}` : undefined}>
            {tag}
            {count < details.length ? <span className="muted"> ({count}/{details.length})</span> : null}
            <button type="button" className="ghost chip-remove" aria-label={`Remove tag ${tag}`} onClick={() => void removeTag(tag)}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <input ref={inputRef} type="text" aria-label="Add a tag" placeholder="Add a tag (T), Enter to apply" value={draft} onChange={(e) => setDraft(e.target.value)} onKeyDown={onKeyDown} />
    </section>
  );
}

function People({ details, onDone }: { details: readonly AssetDetail[]; onDone?: (() => void) | undefined }): React.JSX.Element {
  const people = useMetadataStore((s) => s.people);
  const loadPeople = useMetadataStore((s) => s.loadPeople);
  const tagPerson = useMetadataStore((s) => s.tagPerson);
  const untagPerson = useMetadataStore((s) => s.untagPerson);
  const [draft, setDraft] = useState('');
  useEffect(() => {
    if (people === null) void loadPeople();
  }, [people, loadPeople]);
  const tagged = personCounts(details);
  const onKeyDown = (event: React.KeyboardEvent): void => {
    if (event.key === 'Enter' && draft.trim() !== '') {
      event.preventDefault();
      const name = draft;
      setDraft('');
      void tagPerson(name);
    } else if (event.key === 'Escape') {
      setDraft('');
      onDone?.();
    }
  };
  return (
    <section className="field" aria-label="People">
      <span className="field-name">People</span>
      <ul className="chips">
        {tagged.map(({ person, count }) => (
          <li key={person.id} className={count < details.length ? 'chip partial' : 'chip'}>
            {person.name}
            {person.classGroup ? <span className="muted"> · {person.classGroup}</span> : null}
            {count < details.length ? <span className="muted"> ({count}/{details.length})</span> : null}
            {!person.consent.publish ? (
              <span className="consent-denied" title="This person has no consent to publish: the media they are in stay unpublished.">
                not publishable
              </span>
            ) : null}
            <button type="button" className="ghost chip-remove" aria-label={`Remove ${person.name}`} onClick={() => void untagPerson(person.id)}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <input type="text" list="people-names" aria-label="Tag a person" placeholder="Tag a person by name" value={draft} onChange={(e) => setDraft(e.target.value)} onKeyDown={onKeyDown} />
      <datalist id="people-names">
        {(people ?? []).map((person) => (
          <option key={person.id} value={person.name}>
            {person.classGroup ?? ''}
          </option>
        ))}
      </datalist>
    </section>
  );
}
