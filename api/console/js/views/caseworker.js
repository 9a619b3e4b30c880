// A caseworker's (or partner's) console: choose why you are looking, find a client, open their profile, record or
// revoke a consent, break the glass in an emergency, add a case note.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { errorFor, sectionErrors } from '../api.js';
import { t, tOr, word } from '../i18n.js';
import {
  Alert, Countdown, Table, TextField, errorText, useFocus, useHashRoute, useTitle,
} from './common.js';
import { ConsentList, ConsentForm } from './consents.js';
import { ContactForm } from './contact.js';
import { AppointmentForm } from './appointments.js';
import { Checklist, ReviewList } from './documents.js';
import { PlanAndReferrals, ReferralInbox } from './plans.js';
import { ProfileSections } from './profile.js';
import { WebhookSettings } from './webhooks.js';

const STAFF_PURPOSES = ['CASE_MANAGEMENT', 'CARE_COORDINATION', 'ELIGIBILITY', 'EMERGENCY'];
const PURPOSE_KEY = 'casebridge.purpose';

function PurposeBar({ purpose, onChange }) {
  return html`<div class="cb-purpose" role="region" aria-label=${t('purpose.label')} data-testid="purpose-bar">
    <strong id="purpose-label">${t('purpose.label')}:</strong>
    <span data-testid="purpose-current">${purpose ? word('Purpose', purpose) : t('purpose.none')}</span>
    <ul class="usa-button-group usa-button-group--segmented" aria-labelledby="purpose-label">
      ${STAFF_PURPOSES.map((p) => html`<li class="usa-button-group__item">
        <button type="button" class=${`usa-button${p === purpose ? '' : ' usa-button--outline'}`}
          aria-pressed=${p === purpose ? 'true' : 'false'} onClick=${() => onChange(p)}>${word('Purpose', p)}</button>
      </li>`)}
    </ul>
  </div>`;
}

export function CaseworkerHome({ api, me, config }) {
  const route = useHashRoute();
  const clientId = route[0] === 'client' && route[1] ? route[1] : null;
  const [purpose, setPurpose] = useState(sessionStorage.getItem(PURPOSE_KEY));
  const choose = (p) => {
    if (p) sessionStorage.setItem(PURPOSE_KEY, p);
    else sessionStorage.removeItem(PURPOSE_KEY);
    setPurpose(p);
  };
  // Emergency is a purpose for one client at a time: a client without a grant of this person's asks again (worked
  // out as the page is drawn, so that no request about that client ever goes out under it).
  const current = purpose === 'EMERGENCY' && clientId && !storedGrant(clientId) ? null : purpose;
  const body = clientId
    ? html`<${Profile} key=${clientId} api=${api} me=${me} clientId=${clientId} purpose=${current}
        onPurpose=${choose} organizations=${config.organizations} languages=${config.languages}
        opening=${route[2] === 'documents' ? 'documents' : null} />`
    : html`<${Search} api=${api} purpose=${current} /><${ReviewList} api=${api} purpose=${current} />
      <${ReferralInbox} api=${api} purpose=${current} /><${WebhookSettings} api=${api} purpose=${current} />`;
  return html`<${PurposeBar} purpose=${current} onChange=${choose} />${body}`;
}

function candidateName(candidate) {
  const r = candidate.client.identity?.records?.[0];
  if (!r) return t('search.nameWithheld');
  return [r.firstName, r.middleName, r.lastName].filter(Boolean).join(' ') || t('search.nameWithheld');
}

// What a search matched on, in words (the API says 'score' or the rule, e.g. 'rule:cin').
function matchedOn(value) {
  return tOr(`matched.${value}`, value);
}

function Search({ api, purpose }) {
  useTitle(t('search.title'));
  const heading = useFocus();
  const [form, setForm] = useState({ firstName: '', lastName: '', dateOfBirth: '', ssn: '', cin: '', studentId: '' });
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const submit = async (e) => {
    e.preventDefault();
    const input = Object.fromEntries(Object.entries(form).filter(([, v]) => v.trim()).map(([k, v]) => [k, v.trim()]));
    if (!Object.keys(input).length) {
      setError(t('search.empty'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { data } = await api.call('SearchClients', { input, first: 10 }, purpose);
      setResult(data.searchClients);
    } catch (err) {
      setError(errorText(err.code, err));
    } finally {
      setBusy(false);
    }
  };
  return html`<h1 ref=${heading} tabindex="-1">${t('search.title')}</h1>
    ${!purpose && html`<${Alert} kind="info" slim>${t('purpose.chooseFirst')}<//>`}
    <form class="usa-form usa-form--large" onSubmit=${submit} aria-describedby="search-hint">
      <p class="usa-hint" id="search-hint">${t('search.hint')}</p>
      <div class="cb-grid cb-grid--two">
        <${TextField} id="firstName" label=${t('field.firstName')} value=${form.firstName} onInput=${set('firstName')}
          autocomplete="off" />
        <${TextField} id="lastName" label=${t('field.lastName')} value=${form.lastName} onInput=${set('lastName')}
          autocomplete="off" />
      </div>
      <${TextField} id="dateOfBirth" type="date" label=${t('field.dateOfBirth')} value=${form.dateOfBirth}
        onInput=${set('dateOfBirth')} />
      <details><summary>${t('search.moreIdentifiers')}</summary>
        <${TextField} id="ssn" label=${t('field.ssn')} hint=${t('field.ssn.hint')} value=${form.ssn}
          onInput=${set('ssn')} inputmode="numeric" autocomplete="off" />
        <${TextField} id="cin" label=${t('field.cin')} value=${form.cin} onInput=${set('cin')} autocomplete="off" />
        <${TextField} id="studentId" label=${t('field.studentId')} value=${form.studentId}
          onInput=${set('studentId')} autocomplete="off" />
      </details>
      ${error && html`<${Alert} kind="error" slim>${error}<//>`}
      <button type="submit" class="usa-button" disabled=${!purpose || busy}>${t('search.button')}</button>
    </form>
    ${result && html`<section aria-labelledby="results-h"><h2 id="results-h" tabindex="-1"
      ref=${(el) => el && el.focus()}>${t('search.results',
      { count: result.length })}</h2>
      <${Table} caption=${t('search.results', { count: result.length })} empty=${t('search.noneFound')}
        head=${[t('search.col.name'), t('search.col.grade'), t('search.col.score'), t('search.col.matchedOn'),
          t('search.col.profile')]}
        rows=${result.map((c) => [candidateName(c), word('MatchGrade', c.grade),
          c.score === null ? '' : c.score.toFixed(1), matchedOn(c.matchedOn),
          html`<a class="usa-link" href=${`#/client/${encodeURIComponent(c.client.id)}`}>${t('search.open')}</a>`])} />
    </section>`}`;
}

const GRANTS_KEY = 'casebridge.breakGlass';

function storedGrant(clientId) {
  const all = JSON.parse(sessionStorage.getItem(GRANTS_KEY) || '{}');
  const grant = all[clientId];
  return grant && new Date(grant.expiresAt) > new Date() ? grant : null;
}

function keepGrant(grant) {
  const all = JSON.parse(sessionStorage.getItem(GRANTS_KEY) || '{}');
  all[grant.clientId] = grant;
  sessionStorage.setItem(GRANTS_KEY, JSON.stringify(all));
}

function Profile({ api, me, clientId, purpose, onPurpose, organizations, languages, opening = null }) {
  useTitle(t('profile.title'));
  const [state, setState] = useState({ loading: true });
  const heading = useFocus(clientId);
  const [panel, setPanel] = useState(opening);
  const [notice, setNotice] = useState(null);
  const [grant, setGrant] = useState(storedGrant(clientId));
  const [version, setVersion] = useState(0); // a consent recorded here reloads the consent list
  const load = async () => {
    if (!purpose) return;
    setState((s) => ({ ...s, loading: true }));
    try {
      const { data, errors } = await api.call('ClientProfile', { id: clientId }, purpose);
      setState({ loading: false, client: data.client, sections: sectionErrors(errors, 'client'),
        error: data.client ? null : errorFor(errors, 'client') });
    } catch (err) {
      setState({ loading: false, client: null, error: err.code });
    }
  };
  useEffect(() => { load(); }, [purpose]); // one Profile per client (keyed): never another client's state
  const done = (message) => {
    setPanel(null);
    setNotice(message);
    load();
  };
  if (!purpose) return html`<h1>${t('profile.title')}</h1><${Alert} kind="info">${t('purpose.chooseFirst')}<//>`;
  const client = state.client;
  return html`<p><a class="usa-link" href="#/">${t('profile.back')}</a></p>
    <h1 ref=${heading} tabindex="-1">${t('profile.title')}</h1>
    ${grant && html`<${Alert} kind="warning" title=${t('breakGlass.active.title')}>
      <p>${t('breakGlass.active.body')} <${Countdown} until=${grant.expiresAt}
        onEnd=${() => { setGrant(null); onPurpose(null); }} /></p><//>`}
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${state.loading && html`<p role="status">${t('common.loading')}</p>`}
    ${state.error && html`<${Alert} kind="error" title=${t('profile.unavailable')}>${errorText(state.error)}<//>`}
    ${client && html`<div data-client=${client.id}>
      <ul class="usa-button-group" aria-label=${t('profile.actions')}>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--outline"
          aria-expanded=${panel === 'consent'} onClick=${() => setPanel(panel === 'consent' ? null : 'consent')}>
          ${t('consent.record')}</button></li>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--outline"
          aria-expanded=${panel === 'note'} onClick=${() => setPanel(panel === 'note' ? null : 'note')}>
          ${t('note.add')}</button></li>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--outline"
          aria-expanded=${panel === 'appointment'}
          onClick=${() => setPanel(panel === 'appointment' ? null : 'appointment')}>
          ${t('appointment.schedule')}</button></li>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--outline"
          aria-expanded=${panel === 'plan'}
          onClick=${() => setPanel(panel === 'plan' ? null : 'plan')}>${t('profile.plan')}</button></li>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--outline"
          aria-expanded=${panel === 'documents'}
          onClick=${() => setPanel(panel === 'documents' ? null : 'documents')}>${t('profile.documents')}</button></li>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--outline"
          aria-expanded=${panel === 'contact'} onClick=${() => setPanel(panel === 'contact' ? null : 'contact')}>
          ${t('contact.title')}</button></li>
        <li class="usa-button-group__item"><button type="button" class="usa-button usa-button--secondary"
          aria-expanded=${panel === 'glass'} onClick=${() => setPanel(panel === 'glass' ? null : 'glass')}>
          ${t('breakGlass.start')}</button></li>
      </ul>
      ${panel === 'consent' && html`<${ConsentForm} api=${api} clientId=${clientId} purpose=${purpose}
        organization=${me.organization} organizations=${organizations} staff
        onDone=${() => { setVersion((v) => v + 1); done(t('consent.recorded')); }}
        onCancel=${() => setPanel(null)} />`}
      ${panel === 'contact' && html`<${ContactForm} api=${api} clientId=${clientId} purpose=${purpose} staff
        languages=${languages} current=${client.contact?.preferences}
        onDone=${(key) => done(t(key))} onCancel=${() => setPanel(null)} />`}
      ${panel === 'appointment' && html`<${AppointmentForm} api=${api} clientId=${clientId} purpose=${purpose}
        onDone=${() => done(t('appointment.scheduled'))} onCancel=${() => setPanel(null)} />`}
      ${panel === 'plan' && html`<${PlanAndReferrals} api=${api} clientId=${clientId} purpose=${purpose}
        org=${me.organization} />`}
      ${panel === 'documents' && html`<${Checklist} api=${api} clientId=${clientId} purpose=${purpose} staff
        organizations=${organizations} />`}
      ${panel === 'note' && html`<${NoteForm} api=${api} clientId=${clientId} purpose=${purpose}
        onDone=${() => done(t('note.added'))} onCancel=${() => setPanel(null)} />`}
      ${panel === 'glass' && html`<${BreakGlassForm} api=${api} clientId=${clientId}
        onDone=${(g) => { keepGrant(g); setGrant(g); setPanel(null); onPurpose('EMERGENCY'); }}
        onCancel=${() => setPanel(null)} />`}
      <${ProfileSections} client=${client} errors=${state.sections} onRetry=${load} api=${api} purpose=${purpose}
        staff org=${me.organization} onChanged=${(key) => done(t(key))} />
      <${ConsentList} key=${version} api=${api} clientId=${clientId} purpose=${purpose} canRevoke
        organizations=${organizations} onChanged=${() => { setNotice(t('consent.revoked')); load(); }} /></div>`}`;
}

function NoteForm({ api, clientId, purpose, onDone, onCancel }) {
  const [text, setText] = useState('');
  const [shared, setShared] = useState(false);
  const [error, setError] = useState(null);
  const heading = useFocus();
  const submit = async (e) => {
    e.preventDefault();
    if (!text.trim()) {
      setError(t('note.empty'));
      return;
    }
    try {
      await api.call('AddCaseNote', { clientId, text: text.trim(), sharedWithClient: shared }, purpose);
      onDone();
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  return html`<form class="usa-form usa-form--large cb-section" onSubmit=${submit}>
    <h2 ref=${heading} tabindex="-1">${t('note.add')}</h2>
    <${TextField} id="note-text" type="textarea" label=${t('note.text')} hint=${t('note.hint')} value=${text}
      onInput=${setText} required error=${error} maxlength="10000" />
    <div class="usa-checkbox"><input class="usa-checkbox__input" id="note-shared" type="checkbox" checked=${shared}
      onChange=${(e) => setShared(e.target.checked)} /><label class="usa-checkbox__label" for="note-shared">
      ${t('note.shared')}</label></div>
    <button type="submit" class="usa-button">${t('note.save')}</button>
    <button type="button" class="usa-button usa-button--unstyled" onClick=${onCancel}>${t('common.cancel')}</button>
  </form>`;
}

function BreakGlassForm({ api, clientId, onDone, onCancel }) {
  const [why, setWhy] = useState('');
  const [minutes, setMinutes] = useState('60');
  const [error, setError] = useState(null);
  const heading = useFocus();
  const submit = async (e) => {
    e.preventDefault();
    if (why.trim().length < 20) {
      setError(t('breakGlass.tooShort'));
      return;
    }
    try {
      const { data } = await api.call('StartBreakGlass',
        { clientId, justification: why.trim(), minutes: Number(minutes) }, 'EMERGENCY');
      onDone(data.startBreakGlass);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  return html`<form class="usa-form usa-form--large cb-section" onSubmit=${submit}>
    <h2 ref=${heading} tabindex="-1">${t('breakGlass.title')}</h2>
    <${Alert} kind="warning" slim>${t('breakGlass.warning')}<//>
    <${TextField} id="glass-why" type="textarea" label=${t('breakGlass.justification')}
      hint=${t('breakGlass.justification.hint')} value=${why} onInput=${setWhy} required error=${error}
      maxlength="2000" />
    <label class="usa-label" for="glass-minutes">${t('breakGlass.minutes')}</label>
    <select class="usa-select" id="glass-minutes" value=${minutes} onChange=${(e) => setMinutes(e.target.value)}>
      ${['15', '30', '60', '120', '240'].map((m) => html`<option value=${m}>${t('breakGlass.minutesValue',
        { minutes: m })}</option>`)}
    </select>
    <button type="submit" class="usa-button usa-button--secondary">${t('breakGlass.confirm')}</button>
    <button type="button" class="usa-button usa-button--unstyled" onClick=${onCancel}>${t('common.cancel')}</button>
  </form>`;
}

