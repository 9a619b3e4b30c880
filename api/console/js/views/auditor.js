// An auditor's console: the access log with every filter and cursor paging, the chain's integrity, the unusual
// access summaries, and exports to download. Purpose: audit. Never client data.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { formatDateTime, localDay, t, word } from '../i18n.js';
import { CATEGORIES } from './consents.js';
import { Alert, Table, TextField, errorText, useFocus, useHashRoute, useTitle } from './common.js';

const PURPOSE = 'AUDIT';
// The access log's vocabulary: every action an event can record (core/vocabulary.py: Action and OperatorAction;
// tests/test_console.py keeps the two in step), every outcome, every purpose.
export const ACTIONS = ['read', 'identity.search', 'consent.read', 'consent.record', 'consent.amend', 'consent.revoke',
  'break-glass.start', 'audit.read', 'audit.summary', 'audit.verify', 'audit.export', 'audit.retention',
  'disclosure-report.read', 'identity.review', 'identity.explain', 'identity.resolve', 'identity.link',
  'identity.unlink', 'case-note.add', 'contact.record', 'appointment.schedule', 'appointment.update',
  'document.request', 'document.upload', 'document.review', 'document.download', 'document.retention',
  'referral.create', 'referral.respond', 'referral.withdraw', 'plan.write', 'plan.step', 'legal.record', 'webhook.manage', 'directory.search',
  'directory.import',
  'notification.deliver', 'session.read'];
const OUTCOMES = ['disclosed', 'withheld', 'failed', 'performed', 'refused'];
const PURPOSES = ['CASE_MANAGEMENT', 'CARE_COORDINATION', 'ELIGIBILITY', 'EMERGENCY', 'AUDIT', 'CLIENT_ACCESS',
  'IDENTITY_STEWARDSHIP', 'CLIENT_NOTIFICATION'];

const purposeWord = (value) => (value ? word('Purpose', value.toUpperCase()) : '');

// A day picked as "until" includes that day: the log's filter is recorded_at < until.
function dayAfter(value) {
  const d = new Date(`${value}T00:00:00`);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}
const TABS = [['', 'auditor.tab.log'], ['integrity', 'auditor.tab.integrity'], ['unusual', 'auditor.tab.unusual']];
const EMPTY = { clientId: '', subject: '', organization: '', purpose: '', category: '', outcome: '', action: '',
  legalBasis: '', breakGlass: false, since: '', until: '' };

function toFilter(form) {
  const out = {};
  for (const [key, value] of Object.entries(form)) {
    if (key === 'breakGlass') {
      if (value) out.breakGlass = true;
    } else if (key === 'since') {
      if (value) out.since = new Date(`${value}T00:00:00`).toISOString();
    } else if (key === 'until') {
      if (value) out.until = dayAfter(value);
    } else if (value.trim()) {
      out[key] = value.trim();
    }
  }
  return out;
}

export function AuditorHome({ api }) {
  const route = useHashRoute();
  const tab = TABS.some(([id]) => id === route[0]) ? route[0] : '';
  const label = TABS.find(([id]) => id === tab)[1];
  useTitle(t(label));
  const heading = useFocus(tab);
  return html`<h1 ref=${heading} tabindex="-1">${t('auditor.title')}<span class="usa-sr-only">: ${t(label)}</span></h1>
    <nav aria-label=${t('auditor.nav')}><ul class="usa-button-group">
      ${TABS.map(([id, key]) => html`<li class="usa-button-group__item"><a href=${`#/${id}`}
        class=${`usa-button${id === tab ? '' : ' usa-button--outline'}`} aria-current=${id === tab ? 'page'
        : undefined}>${t(key)}</a></li>`)}</ul></nav>
    ${tab === '' && html`<${Log} api=${api} />`}
    ${tab === 'integrity' && html`<${Integrity} api=${api} />`}
    ${tab === 'unusual' && html`<${Unusual} api=${api} />`}`;
}

function Choice({ id, label, value, onChange, options }) {
  return html`<div class="usa-form-group"><label class="usa-label" for=${id}>${label}</label>
    <select class="usa-select" id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}>
      <option value="">${t('auditor.any')}</option>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}</select></div>`;
}

function Filters({ form, setForm, onSubmit }) {
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  return html`<form class="usa-form usa-form--large cb-section cb-wide" onSubmit=${onSubmit}
    aria-labelledby="filters-h">
    <h2 id="filters-h">${t('auditor.filters')}</h2>
    <div class="cb-grid cb-grid--two">
      <${TextField} id="f-client" label=${t('auditor.f.clientId')} value=${form.clientId} onInput=${set('clientId')} />
      <${TextField} id="f-subject" label=${t('auditor.f.subject')} value=${form.subject} onInput=${set('subject')} />
      <${TextField} id="f-org" label=${t('auditor.f.organization')} value=${form.organization}
        onInput=${set('organization')} />
      <${Choice} id="f-purpose" label=${t('auditor.f.purpose')} value=${form.purpose} onChange=${set('purpose')}
        options=${PURPOSES.map((p) => [p.toLowerCase(), word('Purpose', p)])} />
      <div class="usa-form-group"><label class="usa-label" for="f-category">${t('auditor.f.category')}</label>
        <select class="usa-select" id="f-category" value=${form.category}
          onChange=${(e) => set('category')(e.target.value)}><option value="">${t('auditor.any')}</option>
          ${CATEGORIES.map((c) => html`<option value=${c}>${word('Category', c)}</option>`)}</select></div>
      <${Choice} id="f-outcome" label=${t('auditor.f.outcome')} value=${form.outcome} onChange=${set('outcome')}
        options=${OUTCOMES.map((o) => [o, word('Outcome', o)])} />
      <${Choice} id="f-action" label=${t('auditor.f.action')} value=${form.action} onChange=${set('action')}
        options=${ACTIONS.map((a) => [a, word('Action', a)])} />
      <${TextField} id="f-basis" label=${t('auditor.f.legalBasis')} value=${form.legalBasis}
        onInput=${set('legalBasis')} />
      <${TextField} id="f-since" type="date" label=${t('auditor.f.since')} value=${form.since}
        onInput=${set('since')} />
      <${TextField} id="f-until" type="date" label=${t('auditor.f.until')} value=${form.until}
        onInput=${set('until')} />
    </div>
    <div class="usa-checkbox"><input class="usa-checkbox__input" id="f-glass" type="checkbox" checked=${form.breakGlass}
      onChange=${(e) => set('breakGlass')(e.target.checked)} />
      <label class="usa-checkbox__label" for="f-glass">${t('auditor.f.breakGlass')}</label></div>
    <button type="submit" class="usa-button">${t('auditor.apply')}</button>
  </form>`;
}

function download(filename, mediaType, text) {
  const url = URL.createObjectURL(new Blob([text], { type: mediaType }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function Log({ api }) {
  const [form, setForm] = useState(EMPTY);
  const [filter, setFilter] = useState({});
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [format, setFormat] = useState('JSONL');
  const [exported, setExported] = useState(null);
  const after = cursors[cursors.length - 1];
  useEffect(() => {
    api.call('AccessLog', { filter, first: 25, after }, PURPOSE)
      .then(({ data }) => { setPage(data.accessLog); setError(null); })
      .catch((err) => setError(errorText(err.code, err)));
  }, [filter, after]);
  const apply = (e) => {
    e.preventDefault();
    setFilter(toFilter(form));
    setCursors([null]);
  };
  const exportNow = async () => {
    try {
      const { data } = await api.call('AccessLogExport', { filter, format }, PURPOSE);
      const out = data.accessLogExport;
      download(out.filename, out.mediaType, out.content);
      if (out.proof) download(`${out.filename}.proof.json`, 'application/json', JSON.stringify(out.proof));
      setExported(t('auditor.exported', { count: out.events, file: out.filename }));
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const edges = page?.edges || [];
  return html`<${Filters} form=${form} setForm=${setForm} onSubmit=${apply} />
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    <section class="cb-section" aria-labelledby="log-h"><h2 id="log-h">${t('auditor.events')}</h2>
      <${Table} caption=${t('auditor.events')} empty=${t('auditor.noEvents')}
        head=${[t('auditor.col.seq'), t('col.when'), t('col.who'), t('auditor.col.action'), t('auditor.col.client'),
          t('col.why'), t('auditor.col.outcome'), t('auditor.col.decisions')]}
        rows=${edges.map(({ node: e }) => [String(e.seq), formatDateTime(e.recordedAt), `${e.subject} (${
          e.organization})`, word('Action', e.action), e.clientId || '', [purposeWord(e.purpose), e.breakGlass
          ? t('auditor.breakGlass') : e.legalBasis].filter(Boolean).join(' · '), word('Outcome', e.outcome),
          e.decisions.map((d) => `${d.agency} ${word('Category', d.category.toUpperCase())}: ${word('Decision',
            d.decision)}${d.reason ? ` (${word('WithheldReason', d.reason)})` : ''}`).join('; ')])} />
      <div class="usa-button-group">
        ${cursors.length > 1 && html`<button type="button" class="usa-button usa-button--outline"
          onClick=${() => setCursors(cursors.slice(0, -1))}>${t('auditor.newer')}</button>`}
        ${page?.pageInfo.hasNextPage && html`<button type="button" class="usa-button usa-button--outline"
          onClick=${() => setCursors([...cursors, page.pageInfo.endCursor])}>${t('auditor.older')}</button>`}
      </div>
    </section>
    <section class="cb-section" aria-labelledby="export-h"><h2 id="export-h">${t('auditor.export')}</h2>
      <p>${t('auditor.export.intro')}</p>
      <label class="usa-label" for="export-format">${t('auditor.export.format')}</label>
      <select class="usa-select" id="export-format" value=${format} onChange=${(e) => setFormat(e.target.value)}>
        <option value="JSONL">${t('auditor.export.jsonl')}</option><option value="CSV">${t('auditor.export.csv')}</option>
        <option value="FHIR_BUNDLE">${t('auditor.export.fhir')}</option></select>
      <button type="button" class="usa-button" onClick=${exportNow}>${t('auditor.export.button')}</button>
      ${exported && html`<${Alert} kind="success" slim>${exported}<//>`}
    </section>`;
}

function Integrity({ api }) {
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setBusy(true);
    try {
      const { data } = await api.call('AccessLogIntegrity', {}, PURPOSE);
      setReport(data.accessLogIntegrity);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { check(); }, []);
  return html`<section class="cb-section" aria-labelledby="integrity-h">
    <h2 id="integrity-h">${t('auditor.integrity')}</h2>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${busy && html`<p role="status">${t('auditor.verifying')}</p>`}
    ${report && (report.ok
      ? html`<${Alert} kind="success" title=${t('auditor.intact')}>${t('auditor.intact.body', {
        events: report.eventsChecked, checkpoints: report.checkpointsChecked, head: report.headSeq })}<//>`
      : html`<${Alert} kind="error" title=${t('auditor.broken')}>${t('auditor.broken.body', {
        seq: report.firstBreak?.seq, problem: report.firstBreak?.problem })}<//>`)}
    ${report?.latestCheckpoint && html`<p>${t('auditor.checkpoint', { seq: report.latestCheckpoint.seq,
      when: formatDateTime(report.latestCheckpoint.createdAt), key: report.latestCheckpoint.keyId })}</p>`}
    <button type="button" class="usa-button usa-button--outline" onClick=${check} disabled=${busy}>
      ${t('auditor.verifyNow')}</button>
  </section>`;
}

function Unusual({ api }) {
  const [since, setSince] = useState(localDay(-7));
  const [until, setUntil] = useState('');
  const [summary, setSummary] = useState(null);
  const [error, setError] = useState(null);
  const load = async (e) => {
    if (e) e.preventDefault();
    try {
      const { data } = await api.call('AccessSummary', { since: since ? new Date(`${since}T00:00:00`).toISOString()
        : null, until: until ? dayAfter(until) : null, manyClients: 20 }, PURPOSE);
      setSummary(data.accessSummary);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  useEffect(() => { load(); }, []);
  const s = summary;
  return html`<form class="usa-form usa-form--large cb-section" onSubmit=${load}>
      <h2>${t('auditor.window')}</h2>
      <div class="cb-grid cb-grid--two">
        <${TextField} id="u-since" type="date" label=${t('auditor.f.since')} value=${since} onInput=${setSince} />
        <${TextField} id="u-until" type="date" label=${t('auditor.f.until')} value=${until} onInput=${setUntil} />
      </div>
      <button type="submit" class="usa-button">${t('auditor.apply')}</button>
    </form>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${s && html`<p>${t('auditor.summary.events', { count: s.events })}</p>
      <section class="cb-section"><h2>${t('auditor.summary.breakGlass')}</h2>
        <${Table} caption=${t('auditor.summary.breakGlass')} head=${[t('col.when'), t('col.who'),
          t('auditor.col.client'), t('auditor.justification')]} rows=${s.breakGlass.map((e) => [
          formatDateTime(e.recordedAt), `${e.subject} (${e.organization})`, e.clientId || '', e.justification || ''])} />
      </section>
      <section class="cb-section"><h2>${t('auditor.summary.heavy')}</h2>
        <${Table} caption=${t('auditor.summary.heavy')} head=${[t('col.who'), t('auditor.clients'),
          t('auditor.events')]} rows=${s.heavyReaders.map((r) => [`${r.subject} (${r.organization})`,
          String(r.clients), String(r.events)])} /></section>
      <section class="cb-section"><h2>${t('auditor.summary.outside')}</h2>
        <${Table} caption=${t('auditor.summary.outside')} head=${[t('col.when'), t('col.who'), t('col.what'),
          t('col.why')]} rows=${s.outsideConsentPurpose.map((o) => [formatDateTime(o.event.recordedAt),
          `${o.event.subject} (${o.event.organization})`, word('Category', o.category.toUpperCase()),
          purposeWord(o.event.purpose)])} /></section>
      <section class="cb-section"><h2>${t('auditor.summary.noConsent')}</h2>
        <${Table} caption=${t('auditor.summary.noConsent')} head=${[t('auditor.f.organization'),
          t('auditor.clients'), t('auditor.events')]} rows=${s.readsWithoutConsent.map((r) => [r.organization,
          String(r.clients), String(r.events)])} /></section>
      <section class="cb-section"><h2>${t('auditor.summary.refusals')}</h2>
        <${Table} caption=${t('auditor.summary.refusals')} head=${[t('col.who'), t('auditor.refusals')]}
          rows=${s.refusals.map((r) => [`${r.subject} (${r.organization})`, String(r.refusals)])} /></section>`}`;
}
