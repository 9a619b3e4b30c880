// A client's plan and referrals: the plan as a checklist a client can read on a phone (goals, their dates, the steps
// and who does each; the client marks done what is theirs), the referrals with where each stands; looking up the
// city's directory to refer (staff) or apply (the client); and a partner's inbox of referrals to answer. What each
// person may see and do is the API's to decide: what it refuses, the page says.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { formatDate, formatDateTime, t, word } from '../i18n.js';
import { Alert, Table, TextField, errorText } from './common.js';

const SHAREABLE = ['IDENTITY', 'CONTACT', 'DOCUMENTS', 'APPOINTMENTS'];
const REASONS = ['NOT_ELIGIBLE', 'NO_CAPACITY', 'CLIENT_DECLINED', 'CLIENT_UNREACHABLE', 'SERVICE_UNAVAILABLE',
  'CLIENT_MOVED', 'DUPLICATE', 'OTHER'];
// what the organisation that answers may do next, from each status (the API says the same, and refuses the rest)
const NEXT = { REQUESTED: ['ACCEPTED', 'REJECTED'], RECEIVED: ['ACCEPTED', 'REJECTED'],
  ACCEPTED: ['IN_PROGRESS', 'COMPLETED', 'FAILED'], IN_PROGRESS: ['COMPLETED', 'FAILED', 'ON_HOLD'],
  ON_HOLD: ['IN_PROGRESS', 'COMPLETED', 'FAILED'] };
const OPEN = ['REQUESTED', 'RECEIVED', 'ACCEPTED', 'IN_PROGRESS', 'ON_HOLD'];

export function PlanAndReferrals({ api, clientId, purpose, self = false, organizations = [] }) {
  const [casework, setCasework] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = async () => {
    try {
      const { data } = await api.call('ClientCasework', { id: clientId }, purpose);
      setCasework(data.client?.casework || null);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  useEffect(() => { load(); }, [clientId, purpose]);
  const done = (key) => {
    setNotice(t(key));
    load();
  };
  const fail = (err) => {
    setNotice(null);
    setError(errorText(err.code, err));
  };
  const step = async (task, status) => {
    try {
      await api.call('SetPlanTask', { taskId: task.id, status }, purpose);
      done('plan.stepMarked');
    } catch (err) {
      fail(err);
    }
  };
  const withdraw = async (r) => {
    try {
      await api.call('WithdrawReferral', { id: r.id }, purpose);
      done('referral.withdrawn');
    } catch (err) {
      fail(err);
    }
  };
  const mine = (task) => !self || task.owner === 'CLIENT';
  return html`<section class="cb-section" aria-labelledby="plan-h" data-section="plan">
    <h2 id="plan-h">${t('plan.title')}</h2>
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${casework && !(casework.plans || []).length && html`<p class="cb-muted">${t('plan.none')}</p>`}
    ${(casework?.plans || []).map((p) => html`<div data-plan=${p.id}>
      <p>${t('plan.summary', { days: p.horizonDays, from: formatDate(p.startsOn), to: formatDate(p.endsOn),
        met: p.met, goals: p.goals.length, agency: p.agency })}</p>
      <ul class="cb-plain cb-checklist">${p.goals.map((g) => html`<li data-goal=${g.code || g.id}
        data-status=${g.status}>
        <h3>${g.name} <span class="usa-tag">${word('PlanGoalStatus', g.status)}</span></h3>
        ${g.dueOn && html`<p>${t('plan.dueOn', { date: formatDate(g.dueOn) })}</p>`}
        ${g.notBefore && html`<p>${t('plan.notBefore', { date: formatDate(g.notBefore) })}</p>`}
        <ul class="cb-plain">${g.tasks.map((k) => html`<li data-task=${k.id} data-status=${k.status}>
          ${k.status === 'DONE' ? '✓ ' : ''}${k.title} · ${word('PlanTaskOwner', k.owner)}${k.ownerOrg
            ? ` (${k.ownerOrg})` : ''}${k.dueOn ? ` · ${t('plan.by', { date: formatDate(k.dueOn) })}` : ''}
          ${k.status === 'OPEN' && mine(k) && html` <button type="button" class="usa-button usa-button--unstyled"
            onClick=${() => step(k, 'DONE')}>${t('plan.markDone')}</button>`}</li>`)}</ul>
      </li>`)}</ul></div>`)}
    <h3>${t('referral.title')}</h3>
    ${casework && html`<${Table} caption=${t('referral.title')} empty=${t('referral.none')}
      head=${[t('referral.service'), t('referral.by'), t('col.status'), t('col.when'), '']}
      rows=${(casework.referrals || []).map((r) => [
        html`${r.service.name}<br /><span class="cb-muted">${r.service.organizationName}</span>`,
        r.referredBy,
        html`<span data-referral=${r.status}>${word('ReferralStatus', r.status)}</span>${r.reason
          ? html`<br /><span class="cb-muted">${word('ReferralReason', r.reason)}</span>` : ''}`,
        formatDateTime(r.updatedAt),
        OPEN.includes(r.status) ? html`<button type="button" class="usa-button usa-button--unstyled"
          onClick=${() => withdraw(r)}>${t('referral.withdraw')}</button>` : ''])} />`}
    <${ServiceFinder} api=${api} clientId=${clientId} purpose=${purpose} self=${self}
      onDone=${() => done(self ? 'referral.applied' : 'referral.made')} onError=${fail} />
  </section>`;
}

// The city's directory by need and language; each service with a button to apply (the client) or refer (staff).
function ServiceFinder({ api, clientId, purpose, self, onDone, onError }) {
  const [need, setNeed] = useState('');
  const [language, setLanguage] = useState('');
  const [found, setFound] = useState(null);
  const [needs, setNeeds] = useState([]);
  const [share, setShare] = useState([]);
  const [reference, setReference] = useState('');
  const search = async (e) => {
    if (e) e.preventDefault();
    try {
      const { data } = await api.call('DirectorySearch', { need: need || null, language: language || null },
        purpose);
      setNeeds(data.directoryNeeds);
      setFound(data.directoryServices);
    } catch (err) {
      onError(err);
    }
  };
  useEffect(() => { search(); }, []);
  const refer = async (s) => {
    try {
      await api.call('ReferClient', { clientId, serviceId: s.id, share: self ? [] : share,
        sourceReference: reference.trim() || null }, purpose);
      onDone();
    } catch (err) {
      onError(err);
    }
  };
  const toggle = (c) => setShare(share.includes(c) ? share.filter((x) => x !== c) : [...share, c]);
  return html`<form class="usa-form usa-form--large" onSubmit=${search} data-section="directory">
    <h3>${t(self ? 'directory.applyTitle' : 'directory.referTitle')}</h3>
    <label class="usa-label" for="dir-need">${t('directory.need')}</label>
    <select class="usa-select" id="dir-need" value=${need} onChange=${(e) => setNeed(e.target.value)}>
      <option value="">${t('directory.anyNeed')}</option>
      ${needs.map((n) => html`<option value=${n.need.code}>${n.need.name}</option>`)}</select>
    <${TextField} id="dir-language" label=${t('directory.language')} hint=${t('directory.language.hint')}
      value=${language} onInput=${setLanguage} maxlength="8" />
    <button type="submit" class="usa-button usa-button--outline">${t('directory.search')}</button>
    ${!self && html`<fieldset class="usa-fieldset"><legend class="usa-legend">${t('directory.share')}</legend>
      ${SHAREABLE.map((c) => html`<div class="usa-checkbox"><input class="usa-checkbox__input" type="checkbox"
        id=${`share-${c}`} checked=${share.includes(c)} onChange=${() => toggle(c)} /><label
        class="usa-checkbox__label" for=${`share-${c}`}>${word('Category', c)}</label></div>`)}</fieldset>
      <${TextField} id="dir-reference" label=${t('directory.reference')} hint=${t('directory.reference.hint')}
        value=${reference} onInput=${setReference} maxlength="255" />`}
    ${found && html`<ul class="cb-plain cb-checklist">${found.map((s) => html`<li data-service=${s.name}>
      <h4>${s.name}</h4><p>${s.organization.name}${s.locations[0] ? ` · ${s.locations[0].address1 || ''}, ${
        s.locations[0].city || ''}` : ''}</p>
      ${s.eligibility && html`<p class="cb-muted">${s.eligibility}</p>`}
      <button type="button" class="usa-button" onClick=${() => refer(s)}>${t(self ? 'directory.apply'
        : 'directory.refer')}</button></li>`)}</ul>`}
  </form>`;
}

// A partner's (or any organisation's) referrals to answer.
export function ReferralInbox({ api, purpose }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [reason, setReason] = useState('NO_CAPACITY');
  const load = () => api.call('ReferralInbox', {}, purpose).then(({ data }) => setItems(data.referralInbox))
    .catch((err) => setError(errorText(err.code, err)));
  useEffect(() => { if (purpose) load(); }, [purpose]);
  const answer = async (r, status) => {
    try {
      await api.call('AnswerReferral', { id: r.id, status,
        reason: ['REJECTED', 'FAILED'].includes(status) ? reason : null }, purpose);
      setError(null);
      load();
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  if (!purpose || (!items && !error)) return null;
  return html`<section class="cb-section" aria-labelledby="inbox-h" data-section="inbox">
    <h2 id="inbox-h">${t('inbox.title')}</h2>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${items && html`<${Table} caption=${t('inbox.title')} empty=${t('inbox.none')}
      head=${[t('referral.service'), t('referral.by'), t('col.status'), t('inbox.note'), '']}
      rows=${items.map((r) => [html`${r.service.name}<br /><a class="usa-link"
          href=${`#/client/${encodeURIComponent(r.clientId)}`}>${t('inbox.openClient')}</a>`, r.referredBy,
        html`<span data-referral=${r.status}>${word('ReferralStatus', r.status)}</span>`,
        html`${r.note || ''}${r.shares.length ? html`<br /><span class="cb-muted">${t('inbox.shares', {
          what: r.shares.map((c) => word('Category', c)).join(', '), until: formatDate(r.shareUntil) })}</span>`
          : ''}`,
        html`<span class="cb-actions">${(NEXT[r.status] || []).map((s) => html`<button type="button"
          class="usa-button usa-button--outline" onClick=${() => answer(r, s)}>${t(`inbox.to.${s}`)}</button>`)}
          <label class="usa-sr-only" for=${`why-${r.id}`}>${t('inbox.reason')}</label>
          <select class="usa-select" id=${`why-${r.id}`} value=${reason} onChange=${(e) => setReason(e.target.value)}>
            ${REASONS.map((x) => html`<option value=${x}>${word('ReferralReason', x)}</option>`)}</select></span>`,
      ])} />`}
  </section>`;
}
