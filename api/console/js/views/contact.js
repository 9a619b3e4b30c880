// How to reach a client (category contact): their phone numbers and email addresses with their opt-in, and how
// they prefer to be reached. Used by the client for themself and by staff for a client they help; what each may
// see and change is the API's to decide.
import { html, useState } from '../../vendor/preact-htm.js';
import { formatDateTime, t, tOr, word } from '../i18n.js';
import { Alert, TextField, errorText, useFocus } from './common.js';

// Where an opt-in the client gives here comes from (there is no paper form); shown in words.
const SELF_SOURCE = "The client's own sign-in to the casebridge console";
const CHANNELS = ['SMS', 'EMAIL'];

function sourceText(source) {
  return source === SELF_SOURCE ? t('contact.selfSource') : source;
}

// The contact points and preferences the profile showed, with the opt-in of each to give or withdraw.
export function ContactList({ api, contact, purpose, staff = false, onChanged, selfOrg = null }) {
  const [error, setError] = useState(null);
  const [form, setForm] = useState('');
  const [asking, setAsking] = useState(null); // the point whose opt-in needs a signed form's reference
  const points = contact?.points || [];
  const prefs = contact?.preferences;
  const change = async (point, optedIn, source) => {
    try {
      await api.call('SetContactOptIn', { id: point.id, optedIn, sourceReference: source }, purpose);
      setAsking(null);
      setForm('');
      onChanged(optedIn ? 'contact.optedIn' : 'contact.optedOut');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  return html`
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${points.length === 0 && html`<p class="cb-muted">${t('contact.none')}</p>`}
    <ul class="cb-access">${points.map((p) => html`<li data-contact=${p.channel} data-opted=${String(p.optedIn)}>
      <strong>${word('Channel', p.channel)}</strong> ${p.address} ·
      ${p.optedIn ? t('contact.optedInFrom', { source: sourceText(p.optInSource) || '' }) : t('contact.notOptedIn')}
      · ${p.verified ? t('contact.verified') : t('contact.unverified')}
      <span class="cb-muted"> · ${t('contact.recordedBy', { agency: p.agency === selfOrg ? t('state.you') : p.agency,
        when: formatDateTime(p.recordedAt) })}
      </span>
      ${p.optedIn
        ? html` <button type="button" class="usa-button usa-button--unstyled"
            onClick=${() => change(p, false, null)}>${t('contact.optOut')}</button>`
        : html` <button type="button" class="usa-button usa-button--unstyled"
            onClick=${() => (staff ? setAsking(p.id) : change(p, true, SELF_SOURCE))}>${t('contact.optIn')}</button>`}
      ${asking === p.id && html`<form class="usa-form" onSubmit=${(e) => { e.preventDefault();
        if (form.trim()) change(p, true, form.trim()); else setError(t('consent.formMissing')); }}>
        <${TextField} id="optin-form" label=${t('consent.formReference')} value=${form} onInput=${setForm} required
          autofocus />
        <button type="submit" class="usa-button">${t('contact.optIn')}</button></form>`}
    </li>`)}</ul>
    ${prefs && html`<p data-testid="contact-preferences">${t('contact.prefers', {
      channel: prefs.preferredChannel ? word('Channel', prefs.preferredChannel) : t('contact.noPreference'),
      language: tOr(`language.${prefs.language}`, prefs.language) })}${prefs.quietHoursFrom ? ` ${t('contact.quiet', {
      from: prefs.quietHoursFrom, until: prefs.quietHoursUntil })}` : ''}</p>`}`;
}

// Add a phone number or an email address, with the client's opt-in (staff: from a signed form).
export function ContactForm({ api, clientId, purpose, staff = false, languages, current, onDone, onCancel }) {
  const [channel, setChannel] = useState('SMS');
  const [address, setAddress] = useState('');
  const [optedIn, setOptedIn] = useState(true);
  const [form, setForm] = useState('');
  const [preferred, setPreferred] = useState(current?.preferredChannel || '');
  const [language, setLanguage] = useState(current?.language || document.documentElement.lang || 'en');
  const [quietFrom, setQuietFrom] = useState(current?.quietHoursFrom || '');
  const [quietUntil, setQuietUntil] = useState(current?.quietHoursUntil || '');
  const [error, setError] = useState(null);
  const heading = useFocus();
  const addPoint = async (e) => {
    e.preventDefault();
    if (!address.trim()) {
      setError(t('contact.addressMissing'));
      return;
    }
    if (staff && optedIn && !form.trim()) {
      setError(t('consent.formMissing'));
      return;
    }
    try {
      await api.call('AddContactPoint', { clientId, channel, address: address.trim(), optedIn,
        sourceReference: optedIn ? (staff ? form.trim() : SELF_SOURCE) : null }, purpose);
      onDone('contact.added');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const savePrefs = async (e) => {
    e.preventDefault();
    try {
      await api.call('SetContactPreferences', { clientId, language, preferredChannel: preferred || null,
        quietHoursFrom: quietFrom || null, quietHoursUntil: quietUntil || null }, purpose);
      onDone('contact.saved');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  return html`<div class="cb-section">
    <h2 ref=${heading} tabindex="-1">${t('contact.title')}</h2>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    <form class="usa-form usa-form--large" onSubmit=${addPoint} aria-labelledby="contact-add-h">
      <h3 id="contact-add-h">${t('contact.add')}</h3>
      <label class="usa-label" for="contact-channel">${t('contact.channel')}</label>
      <select class="usa-select" id="contact-channel" value=${channel} onChange=${(e) => setChannel(e.target.value)}>
        ${CHANNELS.map((c) => html`<option value=${c}>${word('Channel', c)}</option>`)}</select>
      <${TextField} id="contact-address" label=${channel === 'SMS' ? t('contact.phone') : t('contact.email')}
        hint=${channel === 'SMS' ? t('contact.phone.hint') : undefined} value=${address} onInput=${setAddress}
        type=${channel === 'SMS' ? 'tel' : 'email'} autocomplete=${staff ? 'off' : (channel === 'SMS' ? 'tel' : 'email')}
        required />
      <div class="usa-checkbox"><input class="usa-checkbox__input" id="contact-optin" type="checkbox"
        checked=${optedIn} onChange=${(e) => setOptedIn(e.target.checked)} />
        <label class="usa-checkbox__label" for="contact-optin">${staff ? t('contact.optIn.staff')
          : t('contact.optIn.self')}</label></div>
      ${staff && optedIn && html`<${TextField} id="contact-form" label=${t('consent.formReference')}
        hint=${t('consent.formReference.hint')} value=${form} onInput=${setForm} required />`}
      <button type="submit" class="usa-button">${t('contact.addButton')}</button>
    </form>
    <form class="usa-form usa-form--large" onSubmit=${savePrefs} aria-labelledby="contact-prefs-h">
      <h3 id="contact-prefs-h">${t('contact.preferences')}</h3>
      <label class="usa-label" for="contact-preferred">${t('contact.preferred')}</label>
      <select class="usa-select" id="contact-preferred" value=${preferred}
        onChange=${(e) => setPreferred(e.target.value)}>
        <option value="">${t('contact.noPreference')}</option>
        ${CHANNELS.map((c) => html`<option value=${c}>${word('Channel', c)}</option>`)}</select>
      <label class="usa-label" for="contact-language">${t('contact.language')}</label>
      <select class="usa-select" id="contact-language" value=${language}
        onChange=${(e) => setLanguage(e.target.value)}>
        ${languages.map((code) => html`<option value=${code}>${t(`language.${code}`)}</option>`)}</select>
      <fieldset class="usa-fieldset"><legend class="usa-legend">${t('contact.quietHours')}</legend>
        <div class="cb-grid cb-grid--two">
          <${TextField} id="contact-quiet-from" type="time" label=${t('contact.quietFrom')} value=${quietFrom}
            onInput=${setQuietFrom} />
          <${TextField} id="contact-quiet-until" type="time" label=${t('contact.quietUntil')} value=${quietUntil}
            onInput=${setQuietUntil} />
        </div></fieldset>
      <button type="submit" class="usa-button">${t('contact.savePreferences')}</button>
      <button type="button" class="usa-button usa-button--unstyled" onClick=${onCancel}>${t('common.cancel')}</button>
    </form>
  </div>`;
}
