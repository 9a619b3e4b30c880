// A goal's checklist for one client: where each document already is, who asked for it by when, what was sent and
// what became of it; sending a photo (the phone's camera opens) or a file; for staff, asking the client for a
// document and accepting or rejecting what was sent, and the list of files awaiting their review. What each person
// may see and do is the API's to decide: what it refuses, the page says.
import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { fetchFile, sendFile } from '../api.js';
import { code, formatDate, formatDateTime, language, localDay, t, tOr, word } from '../i18n.js';
import { Alert, Checkboxes, Table, TextField, errorText } from './common.js';

const REASONS = ['ILLEGIBLE', 'INCOMPLETE', 'EXPIRED_DOCUMENT', 'WRONG_DOCUMENT', 'NAME_MISMATCH',
  'NOT_ACCEPTED_BY_PROGRAM', 'OTHER'];
const FIRST_GOAL = 'SUPPORTIVE_HOUSING_APPLICATION';
const ACCEPTS = 'image/*,application/pdf';
const MAX_ADDRESSEES = 5; // the gateway's limit on whom one file may be addressed to

// The organisations a client works with, from what their own view already has: those their consents name, those
// keeping a record or a request of theirs, those holding a copy - of the organisations the console or the checklist
// knows (others the gateway would refuse). Each [code, name].
function workingWith(list, consents, organizations) {
  const listed = list ? list.items.flatMap((i) => [...i.requests.map((r) => r.agency),
    ...i.copies.filter((c) => c.source !== 'UPLOAD').map((c) => c.agency)]) : [];
  const known = new Set([...organizations.map((o) => o.code), ...listed,
    ...(list ? list.access.map((a) => a.agency) : [])]);
  const named = consents.filter((c) => c.status === 'ACTIVE').flatMap((c) => c.provisions
    .filter((p) => p.type === 'PERMIT').flatMap((p) => p.organizations));
  const codes = [...new Set([...named, ...listed])].filter((o) => o !== 'CLIENT' && known.has(o)).sort();
  return codes.map((o) => [o, organizations.find((x) => x.code === o)?.name || o]);
}

function docName(item) {
  return tOr(`code.${item.document}`, item.name || code(item.document));
}

// Who holds something, in words: an organisation by its code, the client's own sign-in as "you" or "the client".
function holder(agency, organizations, self) {
  if (organizations.some((o) => o.code === agency)) return agency;
  return self ? t('checklist.you') : t('checklist.theClient');
}

// A copy at an agency, or derived from its records, in words, and why it does not count where it does not (files
// sent here are listed with their reviews).
function copyText(c, organizations, self) {
  const params = { agency: holder(c.agency, organizations, self), date: formatDate(c.validUntil) };
  if (c.source === 'DERIVED') {
    if (c.unverifiedReason === 'EXPIRED') return t('checklist.copy.derivedExpired', params);
    return t(c.verified ? 'checklist.copy.derived' : 'checklist.copy.derivedUnverified', params);
  }
  if (c.verified) return t(c.validUntil ? 'checklist.copy.verifiedUntil' : 'checklist.copy.verifiedAt', params);
  if (c.unverifiedReason === 'EXPIRED') return t('checklist.copy.expiredAt', params);
  if (c.unverifiedReason === 'ACCEPTANCE_DATE_UNKNOWN') return t('checklist.copy.dateUnknown', params);
  return t('checklist.copy.receivedAt', params);
}

// How long an item has been in its state, in words ("Requested 12 days ago"); nothing where the day is not known.
function sinceText(item) {
  if (!item.since) return null;
  const params = { ago: new Intl.RelativeTimeFormat(language, { numeric: 'auto' }).format(-item.daysInState, 'day') };
  switch (item.state) {
    case 'ACCEPTED': return t('checklist.since.accepted', params);
    case 'AVAILABLE': return t('checklist.since.available', params);
    case 'RECEIVED': return t('checklist.since.received', params);
    case 'REJECTED': return t('checklist.since.rejected', params);
    case 'REQUESTED': return t('checklist.since.requested', params);
    case 'EXPIRED': return t('checklist.since.expired', params);
    default: return null;
  }
}

function requestText(r) {
  if (r.state === 'REQUESTED') return t('checklist.request.asked', { agency: r.agency, date: formatDate(r.dueOn) });
  if (r.state === 'REJECTED') {
    return t('checklist.request.rejected', { agency: r.agency, reason: word('RejectReason', r.reason),
      date: formatDate(r.dueOn) });
  }
  if (r.state === 'EXPIRED') return t('checklist.request.expired', { agency: r.agency });
  if (r.state === 'RECEIVED') return t('checklist.request.received', { agency: r.agency });
  return r.validUntil ? t('checklist.request.acceptedUntil', { agency: r.agency, date: formatDate(r.validUntil) })
    : t('checklist.request.accepted', { agency: r.agency });
}

export function Checklist({ api, clientId, purpose, organizations = [], staff = false, self = false }) {
  const [goals, setGoals] = useState(null);
  const [goal, setGoal] = useState(null);
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [consents, setConsents] = useState([]);
  useEffect(() => {
    // a client chooses who should review what they send among those they work with (their consents name some)
    if (self) {
      api.call('ClientConsents', { clientId }, purpose).then(({ data }) => setConsents(data.consents || []))
        .catch(() => setConsents([]));
    }
    api.call('ChecklistGoals', { id: clientId }, purpose).then(({ data }) => {
      const found = data.client?.checklistGoals || [];
      setGoals(found);
      setGoal((found.find((g) => g.code === FIRST_GOAL) || found[0] || {}).code || null);
    }).catch((err) => setError(errorText(err.code, err)));
  }, [clientId, purpose]);
  const load = async () => {
    if (!goal) return;
    try {
      const { data } = await api.call('ClientChecklist', { id: clientId, goal }, purpose);
      setList(data.client?.checklist || null);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  useEffect(() => { load(); }, [goal]);
  const done = (key) => {
    setNotice(t(key));
    load();
  };
  return html`<section class="cb-section" aria-labelledby="checklist-h" data-section="checklist">
    <h2 id="checklist-h">${t('checklist.title')}</h2>
    <p>${t(self ? 'checklist.intro.self' : 'checklist.intro')}</p>
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${goals && goals.length > 0 && html`<label class="usa-label" for="checklist-goal">${t('checklist.goal')}</label>
      <select class="usa-select" id="checklist-goal" value=${goal || ''} onChange=${(e) => setGoal(e.target.value)}>
        ${goals.map((g) => html`<option value=${g.code}>${tOr(`code.${g.code}`, g.name)}</option>`)}</select>`}
    ${list && html`<ul class="cb-plain cb-checklist">${list.items.map((item) => html`<${Item} key=${item.document}
      item=${item} api=${api} clientId=${clientId} purpose=${purpose} organizations=${organizations} staff=${staff}
      self=${self} offered=${self ? workingWith(list, consents, organizations) : []} onDone=${done}
      onError=${(e) => { setNotice(null); setError(e); }} />`)}</ul>`}
  </section>`;
}

function Item({ item, api, clientId, purpose, organizations, staff, self, offered, onDone, onError }) {
  const [busy, setBusy] = useState(false);
  // whom the client chose to review what they send (besides those it goes to anyway)
  const [to, setTo] = useState([]);
  // the date the client is asked to send it by: the city's configured days from today unless the caseworker says
  const [dueOn, setDueOn] = useState(() => localDay(api.config.requestDays || 14));
  const send = async (e) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setBusy(true);
    try {
      await sendFile(api, clientId, item.document, file, purpose, to);
      onDone('checklist.sent');
    } catch (err) {
      onError(errorText(err.code, err));
    } finally {
      setBusy(false);
    }
  };
  const ask = async () => {
    try {
      await api.call('RequestDocument', { clientId, document: item.document, dueOn: dueOn || null }, purpose);
      onDone('checklist.asked');
    } catch (err) {
      onError(errorText(err.code, err));
    }
  };
  const id = `send-${item.document}`;
  return html`<li class="cb-card" data-document=${item.document} data-state=${item.state}>
    <h3>${docName(item)} <span class=${`usa-tag${item.needed ? '' : ' usa-tag--big'}`}>${word('ChecklistState',
      item.state)}</span></h3>
    ${sinceText(item) && html`<p data-since=${item.since} title=${formatDate(item.since)}>${sinceText(item)}</p>`}
    ${item.dueOn && html`<p>${t('checklist.due', { date: formatDate(item.dueOn) })}</p>`}
    ${item.copies.some((c) => c.source !== 'UPLOAD') && html`<ul class="cb-plain">${item.copies
      .filter((c) => c.source !== 'UPLOAD').map((c) => html`<li data-copy=${c.source}>
      ${copyText(c, organizations, self)}</li>`)}</ul>`}
    ${item.requests.length > 0 && html`<ul class="cb-plain">${item.requests.map((r) => html`<li
      data-request=${r.state}>${requestText(r)}</li>`)}</ul>`}
    ${item.files.length > 0 && html`<${Files} files=${item.files} api=${api} purpose=${purpose} staff=${staff}
      organizations=${organizations} self=${self} onDone=${onDone} onError=${onError} />`}
    ${!item.copies.some((c) => c.source === 'DERIVED') && offered.length > 0 && html`<details class="cb-address"
      data-address=${item.document}><summary>${t('checklist.addressTo')}</summary>
      <p class="usa-hint">${t('checklist.addressTo.hint', { count: MAX_ADDRESSEES })}</p>
      <${Checkboxes} name=${`to-${item.document}`} legend=${t('checklist.addressTo.legend')} options=${offered}
        chosen=${to} onChange=${setTo} max=${MAX_ADDRESSEES} /></details>`}
    ${!item.copies.some((c) => c.source === 'DERIVED') && html`<div class="cb-actions">
      <label class="usa-button usa-button--outline" for=${`${id}-camera`}>${t('checklist.takePhoto')}</label>
      <input class="usa-sr-only" type="file" id=${`${id}-camera`} accept="image/*" capture="environment"
        onChange=${send} disabled=${busy} data-send="camera" />
      <label class="usa-button usa-button--outline" for=${id}>${t('checklist.chooseFile')}</label>
      <input class="usa-sr-only" type="file" id=${id} accept=${ACCEPTS} onChange=${send} disabled=${busy}
        data-send="file" />
      ${staff && item.needed && html`<div class="cb-ask">
        <${TextField} id=${`due-${item.document}`} type="date" label=${t('checklist.askBy')}
          hint=${t('checklist.askBy.hint')} value=${dueOn} onInput=${setDueOn} min=${localDay()} />
        <button type="button" class="usa-button usa-button--unstyled" onClick=${ask}>
        ${t('checklist.ask')}</button></div>`}
      ${busy && html`<span role="status">${t('checklist.sending')}</span>`}</div>`}
  </li>`;
}

function Files({ files, api, purpose, staff, organizations, self, onDone, onError }) {
  const [shown, setShown] = useState({});
  const [reason, setReason] = useState('ILLEGIBLE');
  // the document's own date, given at acceptance: its validity runs from it (a pay stub 50 days old, say)
  const [issued, setIssued] = useState({});
  // An object URL keeps the file's bytes in the page until it is revoked: each is revoked once its file is no
  // longer shown (viewed again, gone from the list, or the list itself gone).
  const urls = useRef({});
  useEffect(() => {
    const listed = new Set(files.filter((f) => !f.purged).map((f) => f.id));
    const gone = Object.keys(urls.current).filter((id) => !listed.has(id));
    if (gone.length === 0) return;
    gone.forEach((id) => { URL.revokeObjectURL(urls.current[id]); delete urls.current[id]; });
    setShown((now) => Object.fromEntries(Object.entries(now).filter(([id]) => listed.has(id))));
  }, [files]);
  useEffect(() => () => {
    Object.values(urls.current).forEach((url) => URL.revokeObjectURL(url));
    urls.current = {};
  }, []);
  const view = async (f) => {
    try {
      const blob = await fetchFile(api, f.id, purpose);
      const url = URL.createObjectURL(blob);
      if (urls.current[f.id]) URL.revokeObjectURL(urls.current[f.id]);
      urls.current[f.id] = url;
      setShown((now) => ({ ...now, [f.id]: { url, image: blob.type.startsWith('image/') } }));
    } catch (err) {
      onError(errorText(err.code, err));
    }
  };
  const review = async (f, decision) => {
    try {
      await api.call('ReviewDocument', { fileId: f.id, decision, reason: decision === 'REJECT' ? reason : null,
        issuedOn: decision === 'ACCEPT' && issued[f.id] ? issued[f.id] : null }, purpose);
      onDone(decision === 'ACCEPT' ? 'checklist.accepted' : 'checklist.rejected');
    } catch (err) {
      onError(errorText(err.code, err));
    }
  };
  return html`<ul class="cb-plain">${files.map((f) => html`<li data-file=${f.id}
    data-awaiting=${f.awaitingReview ? 'yes' : 'no'}>
    ${t('checklist.file', { who: holder(f.agency, organizations, self), when: formatDateTime(f.sentAt),
      kind: f.mediaType.split('/')[1].toUpperCase() })}
    ${f.notSharedWith && f.notSharedWith.length > 0
      ? html` <span class="usa-tag" data-not-shared=${f.notSharedWith.join(' ')}>${t('checklist.notShared',
        { agencies: f.notSharedWith.join(', ') })}</span>
        <a class="usa-link" href="#/consents">${t('checklist.notShared.consent')}</a>`
      : f.awaitingReview && html` <span class="usa-tag">${t('checklist.awaiting')}</span>`}
    ${!f.purged && html` <button type="button" class="usa-button usa-button--unstyled" onClick=${() => view(f)}>
      ${t('checklist.view')}</button>`}
    ${shown[f.id] && (shown[f.id].image
      ? html`<div><img class="cb-document" src=${shown[f.id].url} alt=${t('checklist.imageAlt')} /></div>`
      : html` <a class="usa-link" href=${shown[f.id].url} download>${t('checklist.save')}</a>`)}
    ${staff && f.awaitingReview && html`<div class="cb-actions">
      <${TextField} id=${`issued-${f.id}`} type="date" label=${t('checklist.issuedOn')}
        hint=${t('checklist.issuedOn.hint')} value=${issued[f.id] || ''}
        onInput=${(v) => setIssued({ ...issued, [f.id]: v })} />
      <button type="button" class="usa-button" onClick=${() => review(f, 'ACCEPT')}>${t('checklist.accept')}</button>
      <label class="usa-label" for=${`reason-${f.id}`}>${t('checklist.reason')}</label>
      <select class="usa-select" id=${`reason-${f.id}`} value=${reason} onChange=${(e) => setReason(e.target.value)}>
        ${REASONS.map((r) => html`<option value=${r}>${word('RejectReason', r)}</option>`)}</select>
      <button type="button" class="usa-button usa-button--secondary" onClick=${() => review(f, 'REJECT')}>
        ${t('checklist.reject')}</button></div>`}
  </li>`)}</ul>`;
}

// Files awaiting the caller's organisation's review, soonest due first, each with a link to the client.
export function ReviewList({ api, purpose }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!purpose) return;
    api.call('DocumentReviews', {}, purpose).then(({ data }) => setItems(data.documentReviews))
      .catch((err) => setError(errorText(err.code, err)));
  }, [purpose]);
  if (!purpose || (!items && !error)) return null;
  return html`<section class="cb-section" aria-labelledby="reviews-h" data-section="reviews">
    <h2 id="reviews-h">${t('reviews.title')}</h2>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${items && html`<${Table} caption=${t('reviews.title')} empty=${t('reviews.none')}
      head=${[t('reviews.due'), t('reviews.document'), t('reviews.sent'), t('search.col.profile')]}
      rows=${items.map((r) => [formatDateTime(r.dueAt), code(r.file.document), formatDateTime(r.file.sentAt),
        html`<a class="usa-link" href=${`#/client/${encodeURIComponent(r.clientId)}/documents`}>
          ${t('reviews.open')}</a>`])} />`}
  </section>`;
}
