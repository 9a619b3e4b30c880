// The frame every view shares (header, language, sign-out, alerts) and the parts of a profile section.
import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { formatDate, formatDateTime, language, t, tOr, word } from '../i18n.js';

export function Shell({ config, me, auth, onLanguage, problem, children }) {
  return html`
    <a class="usa-skipnav" href="#main">${t('common.skip')}</a>
    <header class="grid-container">
      <div class="cb-bar">
        <p class="cb-brand">casebridge</p>
        <div class="cb-who">
          ${me && html`<span data-testid="who">${t('header.signedInAs', { who: me.subject, org: me.organization })}
            · ${me.roles.map((r) => word('Role', r)).join(', ')}</span>`}
          <label class="usa-sr-only" for="language">${t('header.language')}</label>
          <select class="usa-select cb-language" id="language" value=${language}
            onChange=${(e) => onLanguage(e.target.value)}>
            ${config.languages.map((code) => html`<option value=${code}>${t(`language.${code}`)}</option>`)}
          </select>
          ${me && html`<button type="button" class="usa-button usa-button--outline" onClick=${() => auth.signOut()}>
            ${t('header.signOut')}</button>`}
        </div>
      </div>
    </header>
    <main id="main" class="grid-container" tabindex="-1">
      ${problem === 'expired' && html`<${Alert} kind="warning" title=${t('session.expired.title')}>
        <p>${t('session.expired.body')}</p>
        <button type="button" class="usa-button" onClick=${() => auth.signIn()}>${t('signin.button')}</button><//>`}
      ${problem === 'signin-failed' && html`<${Alert} kind="error" title=${t('signin.failed.title')}>
        <p>${t('signin.failed.body')}</p><//>`}
      ${problem === 'unavailable' && html`<${Alert} kind="error" title=${t('error.unavailable.title')}>
        <p>${t('error.unavailable.body')}</p><//>`}
      ${children}
    </main>`;
}

// A ref that takes the keyboard focus when its element appears (a new page's heading, a form just opened, a
// message after an action): where a keyboard or screen-reader user goes on from.
export function useFocus(when = true) {
  const ref = useRef(null);
  useEffect(() => { if (when && ref.current) ref.current.focus(); }, [when]);
  return ref;
}

// The page's title says where one is (the browser's tab, a screen reader's first words).
export function useTitle(text) {
  useEffect(() => { document.title = text ? `${text} - casebridge` : 'casebridge'; }, [text]);
}

export function Alert({ kind = 'info', title, children, slim = false, focus = false }) {
  const role = kind === 'error' || kind === 'warning' ? 'alert' : 'status';
  const ref = useFocus(focus);
  return html`<div class=${`usa-alert usa-alert--${kind}${slim ? ' usa-alert--slim' : ''}`} role=${role}
    ref=${ref} tabindex=${focus ? '-1' : undefined}>
    <div class="usa-alert__body">
      ${title && html`<h2 class="usa-alert__heading">${title}</h2>`}
      <div class="usa-alert__text">${children}</div>
    </div></div>`;
}

// A GraphQL error in plain words for the person who met it; for a form's mistake, the API's own words on what
// to fix (they name the field, never a person's data).
export function errorText(code, err = null) {
  const plain = tOr(`error.code.${code}`, t('error.code.INTERNAL'));
  return code === 'BAD_USER_INPUT' && err?.message ? `${plain} (${err.message})` : plain;
}

export function useHashRoute() {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return ''; // a malformed link opens the start page
    }
  });
}

// What would open a withheld part, in words (never whether the agency holds anything).
function opener(access) {
  return tOr(`withheld.open.${access.reason}`, '', { agency: access.agency });
}

// `selfOrg`: for a client, the organisation their own sign-in carries: what they recorded themselves is "you".
export function AccessLine({ access, onRetry, selfOrg = null }) {
  const agency = selfOrg && access.agency === selfOrg ? t('state.you') : access.agency;
  if (access.status === 'SHOWN') {
    return html`<span class="cb-state cb-state--shown">${t('state.shown')}</span>
      ${t('state.shown.detail', { agency, basis: word('Basis', access.basis) })}
      ${access.asOf && html` · ${t('state.asOf', { when: formatDateTime(access.asOf) })}`}
      ${access.limitedToDataPeriod && html` · ${t('state.limitedPeriod')}`}`;
  }
  if (access.status === 'WITHHELD') {
    return html`<span class="cb-state cb-state--withheld">${t('state.withheld')}</span>
      ${t('state.withheld.detail', { agency, reason: word('WithheldReason', access.reason) })}
      <span class="cb-muted"> ${opener(access)}</span>`;
  }
  return html`<span class="cb-state cb-state--failed">${t('state.failed')}</span>
    ${t('state.failed.detail', { agency, problem: errorText(access.errorCode || 'AGENCY_ERROR') })}
    ${onRetry && html` <button type="button" class="usa-button usa-button--unstyled" onClick=${onRetry}>
      ${t('state.retry')}</button>`}`;
}

export function Section({ id, title, section, error, onRetry, selfOrg = null, children }) {
  const access = section?.access || [];
  const shown = access.some((a) => a.status === 'SHOWN');
  return html`<section class="cb-section" aria-labelledby=${`h-${id}`} data-section=${id}>
    <h2 id=${`h-${id}`}>${title}</h2>
    ${error && html`<ul class="cb-access"><li data-status="FAILED"><${AccessLine} onRetry=${onRetry}
      access=${{ status: 'FAILED', agency: error.connector, errorCode: error.code }} /></li></ul>`}
    ${!error && access.length === 0 && html`<p class="cb-muted">${t('state.none')}</p>`}
    <ul class="cb-access">${access.map((a) => html`<li data-status=${a.status}><${AccessLine} access=${a}
      selfOrg=${selfOrg}
      onRetry=${onRetry} /></li>`)}</ul>
    ${shown && children}
  </section>`;
}

export function Table({ caption, head, rows, empty }) {
  if (!rows.length) return html`<p class="cb-muted">${empty || t('common.nothing')}</p>`;
  return html`<table class="usa-table usa-table--borderless usa-table--stacked">
    <caption class="usa-sr-only">${caption}</caption>
    <thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
    <tbody>${rows.map((row) => html`<tr>${row.map((cell, i) => html`<td data-label=${head[i]}>${cell}</td>`)}</tr>`)}
    </tbody></table>`;
}

export function Countdown({ until, onEnd }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = Math.max(0, Math.round((new Date(until).getTime() - now) / 1000));
  useEffect(() => { if (left === 0 && onEnd) onEnd(); }, [left === 0]);
  const mm = String(Math.floor(left / 60)).padStart(2, '0');
  const ss = String(left % 60).padStart(2, '0');
  return html`<span class="cb-countdown" role="timer" aria-live="off">${mm}:${ss}</span>`;
}

export function TextField({ id, label, hint, value, onInput, type = 'text', required = false, error, ...rest }) {
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
  return html`<div class=${`usa-form-group${error ? ' usa-form-group--error' : ''}`}>
    <label class="usa-label" for=${id}>${label}${required && html` <abbr title=${t('form.required')}
      class="usa-hint usa-hint--required">*</abbr>`}</label>
    ${hint && html`<div class="usa-hint" id=${`${id}-hint`}>${hint}</div>`}
    ${error && html`<span class="usa-error-message" id=${`${id}-error`} role="alert">${error}</span>`}
    ${type === 'textarea'
      ? html`<textarea class="usa-textarea" id=${id} name=${id} value=${value} required=${required}
          aria-describedby=${described} aria-invalid=${error ? 'true' : undefined}
          onInput=${(e) => onInput(e.target.value)} ...${rest} />`
      : html`<input class="usa-input" id=${id} name=${id} type=${type} value=${value} required=${required}
          aria-describedby=${described} aria-invalid=${error ? 'true' : undefined}
          onInput=${(e) => onInput(e.target.value)} ...${rest} />`}
  </div>`;
}

// Checkboxes; with `max`, the unticked ones cannot be ticked once that many are.
export function Checkboxes({ name, legend, options, chosen, onChange, max = Infinity }) {
  const toggle = (value) => onChange(chosen.includes(value) ? chosen.filter((v) => v !== value) : [...chosen, value]);
  return html`<fieldset class="usa-fieldset"><legend class="usa-legend">${legend}</legend>
    ${options.map(([value, label, hint]) => html`<div class="usa-checkbox">
      <input class="usa-checkbox__input" id=${`${name}-${value}`} type="checkbox" name=${name} value=${value}
        checked=${chosen.includes(value)} disabled=${!chosen.includes(value) && chosen.length >= max}
        onChange=${() => toggle(value)} />
      <label class="usa-checkbox__label" for=${`${name}-${value}`}>${label}
        ${hint && html`<span class="usa-checkbox__label-description">${hint}</span>`}</label>
    </div>`)}</fieldset>`;
}

export { formatDate, formatDateTime };
