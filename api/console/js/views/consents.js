// Consents: the list (with what each provision opens, in plain words), recording one from a signed form or by the
// client themself, changing one provision and revoking a consent.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { localDay, t, word } from '../i18n.js';
import { Alert, Checkboxes, TextField, errorText, formatDate, useFocus } from './common.js';

export const CATEGORIES = ['IDENTITY', 'BENEFITS', 'HOUSING', 'SCHOOLING', 'APPOINTMENTS', 'DOCUMENTS', 'CASEWORK',
  'CONTACT', 'IMMIGRATION_LEGAL'];
const CARE_PURPOSES = ['CASE_MANAGEMENT', 'CARE_COORDINATION', 'ELIGIBILITY'];
// What a consent the client gives here records as its source (there is no paper form); shown in words.
const SELF_REFERENCE = 'Given by the client in the casebridge console';
// The fields of a provision the API takes back when a consent is changed.
const PROVISION_FIELDS = ['type', 'organizations', 'categories', 'purposes', 'periodStart', 'periodEnd',
  'dataPeriodStart', 'dataPeriodEnd', 'holders'];

function list(items) {
  return new Intl.ListFormat(document.documentElement.lang || 'en', { type: 'conjunction' }).format(items);
}

// In the client's own words ("your benefit cases...") for the client, by category name for staff; every limit
// the provision carries is said (whose records, records of which dates).
function describeProvision(p, self = false) {
  const what = list(p.categories.map((c) => (self ? t(`category.plain.${c}`) : word('Category', c))));
  const who = list(p.organizations);
  const why = p.purposes.length ? list(p.purposes.map((x) => word('Purpose', x))) : t('consent.anyPurpose');
  const until = p.periodEnd ? t('consent.until', { date: formatDate(p.periodEnd) }) : t('consent.noEnd');
  let text = t(p.type === 'DENY' ? 'consent.plain.deny' : 'consent.plain.permit', { who, what, why, until });
  if (p.holders?.length) text += ` ${t('consent.heldBy', { holders: list(p.holders) })}`;
  if (p.dataPeriodStart || p.dataPeriodEnd) {
    text += ` ${t('consent.dataPeriod', { from: formatDate(p.dataPeriodStart) || '…',
      to: formatDate(p.dataPeriodEnd) || '…' })}`;
  }
  return text;
}

function asInput(p) {
  return Object.fromEntries(PROVISION_FIELDS.map((k) => [k, p[k] ?? (k === 'holders' ? [] : null)]));
}

export function ConsentList({ api, clientId, purpose, organizations = [], canRevoke = false, canChange = false,
  onChanged, self = false }) {
  const [consents, setConsents] = useState(null);
  const [error, setError] = useState(null);
  const [revoking, setRevoking] = useState(null);
  const [changing, setChanging] = useState(null); // [consent, index of the provision]
  const [reason, setReason] = useState('');
  const load = async () => {
    try {
      const { data } = await api.call('ClientConsents', { clientId }, purpose);
      setConsents(data.consents);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  useEffect(() => { load(); }, [clientId, purpose]);
  const revoke = async (e) => {
    e.preventDefault();
    try {
      await api.call('RevokeConsent', { id: revoking, reason: reason.trim() || null }, purpose);
      setRevoking(null);
      setReason('');
      await load();
      onChanged && onChanged('revoked');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const source = (c) => (c.sourceReference === SELF_REFERENCE ? t('consent.selfGiven') : c.sourceReference);
  return html`<section class="cb-section" aria-labelledby="consents-h" data-section="consents">
    <h2 id="consents-h">${self ? t('consent.mine') : t('consent.list')}</h2>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${consents && !consents.length && html`<p class="cb-muted">${t('consent.none')}</p>`}
    ${(consents || []).map((c) => html`<div class="cb-record" data-consent=${c.id} data-status=${c.status}>
      <h3>${word('ConsentStatus', c.status)} · ${t('consent.given', { date: formatDate(c.givenAt) })}</h3>
      <ul>${c.provisions.map((p, i) => html`<li data-provision=${p.type}>${describeProvision(p, self)}
        ${canChange && c.status === 'ACTIVE' && p.type === 'PERMIT' && html` <button type="button"
          class="usa-button usa-button--unstyled" onClick=${() => setChanging([c, i])}>${t('consent.change')}
          <span class="usa-sr-only">${describeProvision(p, self)}</span></button>`}</li>`)}</ul>
      <p class="cb-muted">${t('consent.recordedBy', { org: c.recordedByOrganization, form: source(c),
        version: c.version })}${c.revokedAt ? ` · ${t('consent.revokedOn', { date: formatDate(c.revokedAt) })}` : ''}</p>
      ${c.status === 'ACTIVE' && canRevoke && html`<button type="button" class="usa-button usa-button--secondary"
        onClick=${() => setRevoking(c.id)}>${t('consent.revoke')}</button>`}
      ${revoking === c.id && html`<form class="usa-form" onSubmit=${revoke}>
        <${TextField} id="revoke-reason" label=${t('consent.revokeReason')} value=${reason} onInput=${setReason}
          autofocus />
        <button type="submit" class="usa-button usa-button--secondary">${t('consent.revokeConfirm')}</button>
        <button type="button" class="usa-button usa-button--unstyled" onClick=${() => setRevoking(null)}>
          ${t('common.cancel')}</button></form>`}
      ${changing && changing[0].id === c.id && html`<${ConsentForm} api=${api} clientId=${clientId}
        purpose=${purpose} existing=${c} index=${changing[1]} organizations=${organizations} self=${self}
        onDone=${async () => { setChanging(null); await load(); onChanged && onChanged('changed'); }}
        onCancel=${() => setChanging(null)} />`}
    </div>`)}
  </section>`;
}

// When a form signed on `day` was signed: noon that day, or now for a form signed today before noon (a consent
// given in the future is refused).
function signedAt(day) {
  const noon = new Date(`${day}T12:00:00`);
  return (noon > new Date() ? new Date() : noon).toISOString();
}

// Who may see it: the city's organisations to tick (config.organizations), and any other code typed by staff.
function OrganizationChoice({ organizations, chosen, onChange, staff }) {
  const known = organizations.map((o) => o.code);
  const others = chosen.filter((c) => !known.includes(c));
  return html`
    ${organizations.length > 0 && html`<${Checkboxes} name="consent-orgs" legend=${t('consent.organizations')}
      chosen=${chosen.filter((c) => known.includes(c))}
      onChange=${(picked) => onChange([...picked, ...others])}
      options=${organizations.map((o) => [o.code, `${o.name} (${o.code})`])} />`}
    ${(staff || !organizations.length) && html`<${TextField} id="consent-orgs-other"
      label=${organizations.length ? t('consent.organizations.other') : t('consent.organizations')}
      hint=${t('consent.organizations.hint')} value=${others.join(', ')}
      onInput=${(v) => onChange([...chosen.filter((c) => known.includes(c)),
        ...v.split(',').map((o) => o.trim()).filter(Boolean)])} />`}`;
}

export function ConsentForm({ api, clientId, purpose, organization = '', organizations = [], staff = false,
  existing = null, index = 0, onDone, onCancel }) {
  const first = existing?.provisions[index];
  const [orgs, setOrgs] = useState(first ? first.organizations : (organization ? [organization] : []));
  const [categories, setCategories] = useState(first ? first.categories : []);
  const [purposes, setPurposes] = useState(first ? first.purposes : ['CASE_MANAGEMENT', 'CARE_COORDINATION']);
  const [until, setUntil] = useState(first?.periodEnd ? first.periodEnd.slice(0, 10) : localDay(365));
  const [form, setForm] = useState('');
  const [grantor, setGrantor] = useState('CLIENT');
  const [givenOn, setGivenOn] = useState(localDay());
  const [error, setError] = useState(null);
  const heading = useFocus();
  const edited = { ...(first ? asInput(first) : { type: 'PERMIT', holders: [] }), organizations: orgs, categories,
    purposes, periodEnd: until ? `${until}T23:59:59Z` : null };
  const submit = async (e) => {
    e.preventDefault();
    if (!orgs.length || !categories.length) {
      setError(t('consent.incomplete'));
      return;
    }
    if (!purposes.length) {
      setError(t('consent.purposeMissing'));
      return;
    }
    if (staff && !existing && !form.trim()) {
      setError(t('consent.formMissing'));
      return;
    }
    try {
      if (existing) { // every other provision goes back as it was: changing one never widens another
        const provisions = existing.provisions.map((p, i) => (i === index ? edited : asInput(p)));
        await api.call('AmendConsent', { id: existing.id, provisions }, purpose);
      } else {
        await api.call('RecordConsent', { input: { clientId, grantor,
          sourceReference: staff ? form.trim() : SELF_REFERENCE, givenAt: signedAt(givenOn),
          provisions: [edited] } }, purpose);
      }
      onDone();
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const preview = categories.length && orgs.length ? describeProvision(edited, !staff) : null;
  return html`<form class="usa-form usa-form--large cb-section" onSubmit=${submit}>
    <h2 ref=${heading} tabindex="-1">${existing ? t('consent.change') : staff ? t('consent.record')
      : t('consent.give')}</h2>
    ${staff && !existing && html`
      <${TextField} id="consent-form" label=${t('consent.formReference')} hint=${t('consent.formReference.hint')}
        value=${form} onInput=${setForm} required />
      <label class="usa-label" for="consent-grantor">${t('consent.grantor')}</label>
      <select class="usa-select" id="consent-grantor" value=${grantor} onChange=${(e) => setGrantor(e.target.value)}>
        <option value="CLIENT">${word('Grantor', 'CLIENT')}</option>
        <option value="GUARDIAN">${word('Grantor', 'GUARDIAN')}</option></select>
      <${TextField} id="consent-given" type="date" label=${t('consent.givenOn')} value=${givenOn}
        onInput=${setGivenOn} required />`}
    <${OrganizationChoice} organizations=${organizations} chosen=${orgs} onChange=${setOrgs} staff=${staff} />
    <${Checkboxes} name="consent-categories" legend=${t('consent.categories')} chosen=${categories}
      onChange=${setCategories} options=${CATEGORIES.map((c) => [c, word('Category', c), t(`category.plain.${c}`)])} />
    <${Checkboxes} name="consent-purposes" legend=${t('consent.purposes')} chosen=${purposes} onChange=${setPurposes}
      options=${CARE_PURPOSES.map((p) => [p, word('Purpose', p)])} />
    <${TextField} id="consent-until" type="date" label=${t('consent.untilLabel')} value=${until} onInput=${setUntil} />
    ${preview && html`<div class="usa-summary-box" role="region" aria-label=${t('consent.preview')}>
      <div class="usa-summary-box__body"><p class="usa-summary-box__heading">${t('consent.preview')}</p>
      <p class="usa-summary-box__text">${preview}</p></div></div>`}
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    <button type="submit" class="usa-button">${existing ? t('consent.saveChange') : t('consent.save')}</button>
    <button type="button" class="usa-button usa-button--unstyled" onClick=${onCancel}>${t('common.cancel')}</button>
  </form>`;
}
