// An identity steward's console: the review queue with both records side by side and each field's agreement;
// same person or different people, with a reason; link and unlink records by hand. Purpose: identity stewardship.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { formatDate, formatDateTime, t, word } from '../i18n.js';
import { Alert, TextField, errorText, useFocus, useHashRoute, useTitle } from './common.js';

const PURPOSE = 'IDENTITY_STEWARDSHIP';
// Rows of the side-by-side table: the record's property, its label, the field the matcher compared it as.
const ROWS = [['firstName', 'field.firstName', 'first'], ['middleName', 'field.middleName', null],
  ['lastName', 'field.lastName', 'last'], ['dateOfBirth', 'field.dateOfBirth', 'dob'], ['sex', 'field.sex', 'sex'],
  ['ssnLast4', 'field.ssnLast4', 'ssn4'], ['cin', 'field.cin', 'oid'], ['studentId', 'field.studentId', 'oid'],
  ['address', 'field.address', 'addr'], ['zip', 'field.zip', 'zip'], ['phone', 'field.phone', 'phone']];

export function StewardHome({ api }) {
  const route = useHashRoute();
  const tab = route[0] === 'link' ? 'link' : 'queue';
  const label = tab === 'link' ? 'steward.tab.link' : 'steward.tab.queue';
  useTitle(t(label));
  const heading = useFocus(tab);
  return html`<h1 ref=${heading} tabindex="-1">${t('steward.title')}<span class="usa-sr-only">: ${t(label)}</span>
    </h1>
    <nav aria-label=${t('steward.nav')}><ul class="usa-button-group">
      ${[['', 'queue', 'steward.tab.queue'], ['link', 'link', 'steward.tab.link']].map(([hash, id, key]) => html`
        <li class="usa-button-group__item"><a href=${`#/${hash}`} class=${`usa-button${id === tab ? ''
          : ' usa-button--outline'}`} aria-current=${id === tab ? 'page' : undefined}>${t(key)}</a></li>`)}
    </ul></nav>
    ${tab === 'queue' ? html`<${Queue} api=${api} />` : html`<${LinkForms} api=${api} />`}`;
}

function Queue({ api }) {
  const [page, setPage] = useState(null);
  const [cursors, setCursors] = useState([null]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const after = cursors[cursors.length - 1];
  const load = async () => {
    try {
      const { data } = await api.call('ReviewQueue', { first: 5, after }, PURPOSE);
      setPage(data.identityReviewQueue);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  useEffect(() => { load(); }, [after]);
  const decided = (message) => {
    setNotice(message);
    load();
  };
  return html`
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${page && page.withheld > 0 && html`<p class="cb-muted">${t('steward.withheld', { count: page.withheld })}</p>`}
    ${page && !page.items.length && html`<p>${t('steward.empty')}</p>`}
    ${(page?.items || []).map((item) => html`<${ReviewItem} key=${item.id} api=${api} item=${item}
      onDecided=${decided} />`)}
    <div class="usa-button-group">
      ${cursors.length > 1 && html`<button type="button" class="usa-button usa-button--outline"
        onClick=${() => setCursors(cursors.slice(0, -1))}>${t('common.previous')}</button>`}
      ${page?.hasNextPage && html`<button type="button" class="usa-button usa-button--outline"
        onClick=${() => setCursors([...cursors, page.endCursor])}>${t('common.next')}</button>`}
    </div>`;
}

function agreementOf(item, field) {
  return field && item.fields.find((f) => f.field === field);
}

function ReviewItem({ api, item, onDecided }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState(null);
  const decide = async (decision) => {
    if (!reason.trim()) {
      setError(t('steward.reasonMissing'));
      return;
    }
    try {
      const { data } = await api.call('ResolveReview', { id: item.id, decision, reason: reason.trim() }, PURPOSE);
      const r = data.resolveIdentityReview;
      onDecided(t(decision === 'SAME_PERSON' ? 'steward.merged' : 'steward.kept', { merged: r.merged }));
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const value = (rec, key) => (key === 'dateOfBirth' ? formatDate(rec[key]) : rec[key] ?? '');
  const crosswise = item.fields.find((f) => f.field === 'order');
  return html`<section class="cb-section" aria-labelledby=${`item-${item.id}`} data-review=${item.id}>
    <h2 id=${`item-${item.id}`}>${t('steward.pair', { grade: word('MatchGrade', item.grade),
      score: item.score.toFixed(1) })}</h2>
    <p>${word('ReviewReason', item.reason)}${item.identifier ? ` (${item.identifier})` : ''} ·
      ${t('steward.found', { when: formatDateTime(item.foundAt) })}</p>
    ${crosswise && html`<p>${t('steward.crosswise')}</p>`}
    <table class="usa-table usa-table--borderless usa-table--stacked">
      <caption class="usa-sr-only">${t('steward.sideBySide')}</caption>
      <thead><tr><th scope="col">${t('steward.field')}</th>
        <th scope="col">${item.a.source} ${item.a.localId}</th><th scope="col">${item.b.source} ${item.b.localId}</th>
        <th scope="col">${t('steward.agreement')}</th></tr></thead>
      <tbody>${ROWS.filter(([key]) => item.a[key] || item.b[key]).map(([key, label, field]) => {
        const agree = agreementOf(item, field);
        const level = !agree || ['missing', 'withheld'].includes(agree.agreement) ? 'missing'
          : agree.agreement === 'same' ? 'agree' : 'disagree';
        return html`<tr><th scope="row" data-label=${t('steward.field')}>${t(label)}</th>
          <td data-label=${`${item.a.source} ${item.a.localId}`}>${value(item.a, key)}</td>
          <td data-label=${`${item.b.source} ${item.b.localId}`}>${value(item.b, key)}</td>
          <td data-label=${t('steward.agreement')} class=${`cb-agree--${level}`}>${agree
            ? `${word('Agreement', agree.agreement)}${agree.weight === null ? '' : ` (${agree.weight > 0 ? '+' : ''}${
              agree.weight.toFixed(1)})`}` : ''}</td></tr>`;
      })}</tbody></table>
    <${TextField} id=${`reason-${item.id}`} label=${t('steward.reason')} hint=${t('steward.reason.hint')}
      value=${reason} onInput=${setReason} required error=${error} />
    <div class="usa-button-group">
      <button type="button" class="usa-button" onClick=${() => decide('SAME_PERSON')}>${t('steward.same')}</button>
      <button type="button" class="usa-button usa-button--outline" onClick=${() => decide('DIFFERENT_PEOPLE')}>
        ${t('steward.different')}</button>
    </div>
  </section>`;
}

function RecordFields({ prefix, value, onChange }) {
  return html`<div class="cb-grid cb-grid--two">
    <${TextField} id=${`${prefix}-source`} label=${t('steward.source')} hint=${t('steward.source.hint')}
      value=${value.source} onInput=${(v) => onChange({ ...value, source: v })} required />
    <${TextField} id=${`${prefix}-local`} label=${t('steward.localId')} value=${value.localId}
      onInput=${(v) => onChange({ ...value, localId: v })} required />
  </div>`;
}

function LinkForms({ api }) {
  const empty = { source: '', localId: '' };
  const [a, setA] = useState(empty);
  const [b, setB] = useState(empty);
  const [linkReason, setLinkReason] = useState('');
  const [record, setRecord] = useState(empty);
  const [unlinkReason, setUnlinkReason] = useState('');
  const [message, setMessage] = useState(null);
  const run = async (e, call, done) => {
    e.preventDefault();
    try {
      await call();
      setMessage({ kind: 'success', text: done });
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err.code, err) });
    }
  };
  const trim = (r) => ({ source: r.source.trim(), localId: r.localId.trim() });
  return html`
    ${message && html`<${Alert} kind=${message.kind} slim focus key=${message.text}>${message.text}<//>`}
    <form class="usa-form usa-form--large cb-section" onSubmit=${(e) => run(e, () => api.call('LinkRecords',
      { a: trim(a), b: trim(b), reason: linkReason.trim() }, PURPOSE), t('steward.linked'))}>
      <h2>${t('steward.link')}</h2><p>${t('steward.link.intro')}</p>
      <h3>${t('steward.recordA')}</h3><${RecordFields} prefix="link-a" value=${a} onChange=${setA} />
      <h3>${t('steward.recordB')}</h3><${RecordFields} prefix="link-b" value=${b} onChange=${setB} />
      <${TextField} id="link-reason" label=${t('steward.reason')} value=${linkReason} onInput=${setLinkReason}
        required />
      <button type="submit" class="usa-button">${t('steward.linkButton')}</button>
    </form>
    <form class="usa-form usa-form--large cb-section" onSubmit=${(e) => run(e, () => api.call('UnlinkRecord',
      { record: trim(record), reason: unlinkReason.trim() }, PURPOSE), t('steward.unlinked'))}>
      <h2>${t('steward.unlink')}</h2><p>${t('steward.unlink.intro')}</p>
      <${RecordFields} prefix="unlink" value=${record} onChange=${setRecord} />
      <${TextField} id="unlink-reason" label=${t('steward.reason')} value=${unlinkReason} onInput=${setUnlinkReason}
        required />
      <button type="submit" class="usa-button usa-button--secondary">${t('steward.unlinkButton')}</button>
    </form>
    <${Explain} api=${api} />`;
}

function Explain({ api }) {
  const [id, setId] = useState('');
  const [client, setClient] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      const { data } = await api.call('IdentityClient', { id: id.trim() }, PURPOSE);
      setClient(data.identityClient);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  return html`<form class="usa-form usa-form--large cb-section" onSubmit=${submit}>
    <h2>${t('steward.explain')}</h2>
    <${TextField} id="explain-id" label=${t('steward.clientId')} value=${id} onInput=${setId} required />
    <button type="submit" class="usa-button usa-button--outline">${t('steward.explainButton')}</button>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${client && html`<ul>${client.records.map((l) => html`<li>${l.record.source} ${l.record.localId}:
      ${[l.record.firstName, l.record.lastName].filter(Boolean).join(' ')} · ${word('LinkHow', l.how)}${l.rule
        ? ` (${word('Identifier', l.rule)})` : ''}
      ${l.decidedBy ? ` · ${t('steward.decidedBy', { who: l.decidedBy })}` : ''}</li>`)}</ul>
      ${client.successors.map((s) => html`<p>${t('steward.successor', { id: s.clientId, reason: s.reason })}</p>`)}`}
  </form>`;
}
