import { CONSENT_PURPOSES as PURPOSES, type Person } from '../../../app/shared/domain.ts';

const PURPOSE_LABEL: Record<(typeof PURPOSES)[number], string> = { publish: 'Publish', yearbook: 'Yearbook' };

/** A person's consent, one badge per purpose: granted or not (consent is opt-in: no answer is no). */
export function ConsentBadges({ person }: { person: Pick<Person, 'name' | 'consent'> }): React.JSX.Element {
  return (
    <span className="consent-badges" aria-label={`Consent of ${person.name}`}>
      {PURPOSES.map((purpose) => {
        const granted = person.consent[purpose] === true;
        return (
          <span key={purpose} className={granted ? 'badge good' : 'badge bad'} title={granted ? `${PURPOSE_LABEL[purpose]}: consent given` : `${PURPOSE_LABEL[purpose]}: no consent`}>
            {granted ? '✓' : '✕'} {PURPOSE_LABEL[purpose]}
          </span>
        );
      })}
    </span>
  );
}
