// A client's own view, phone first: their profile, their documents (what a goal needs, sending a photo of one),
// their consents (give, change, revoke), who has seen their data and why, their appointments and notices. Every request carries the purpose client_access.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { errorFor, sectionErrors } from '../api.js';
import { code, t, word } from '../i18n.js';
import { Alert, Table, errorText, formatDate, formatDateTime, useFocus, useHashRoute, useTitle } from './common.js';
import { ConsentForm, ConsentList } from './consents.js';
import { ContactForm, ContactList } from './contact.js';
import { MessageList } from './appointments.js';
import { Checklist } from './documents.js';
import { PlanAndReferrals } from './plans.js';
import { ProfileSections } from './profile.js';

const PURPOSE = 'CLIENT_ACCESS';
const TABS = [['', 'client.tab.profile'], ['plan', 'client.tab.plan'], ['documents', 'client.tab.documents'],
  ['contact', 'client.tab.contact'], ['consents', 'client.tab.consents'], ['seen', 'client.tab.seen']];

export function ClientHome({ api, me, config }) {
  const route = useHashRoute();
  const tab = TABS.some(([id]) => id === route[0]) ? route[0] : '';
  const label = TABS.find(([id]) => id === tab)[1];
  useTitle(t(label));
  const heading = useFocus(tab);
  if (!me.clientId) return html`<${Alert} kind="error">${t('client.noClientId')}<//>`;
  return html`<h1 ref=${heading} tabindex="-1">${t('client.title')}<span class="usa-sr-only">: ${t(label)}</span></h1>
    <nav aria-label=${t('client.nav')}><ul class="usa-button-group">
      ${TABS.map(([id, key]) => html`<li class="usa-button-group__item"><a href=${`#/${id}`}
        class=${`usa-button${id === tab ? '' : ' usa-button--outline'}`} aria-current=${id === tab ? 'page'
        : undefined}>${t(key)}</a></li>`)}</ul></nav>
    ${tab === '' && html`<${OwnProfile} api=${api} clientId=${me.clientId} selfOrg=${me.organization} />`}
    ${tab === 'consents' && html`<${OwnConsents} api=${api} clientId=${me.clientId}
      organizations=${config.organizations} />`}
    ${tab === 'plan' && html`<${PlanAndReferrals} api=${api} clientId=${me.clientId} purpose=${PURPOSE} self />`}
    ${tab === 'documents' && html`<${Checklist} api=${api} clientId=${me.clientId} purpose=${PURPOSE} self
      organizations=${config.organizations} />`}
    ${tab === 'seen' && html`<${Disclosures} api=${api} clientId=${me.clientId} />`}
    ${tab === 'contact' && html`<${OwnContact} api=${api} clientId=${me.clientId} languages=${config.languages}
      selfOrg=${me.organization} />`}`;
}

function OwnProfile({ api, clientId, selfOrg }) {
  const [state, setState] = useState({ loading: true });
  const load = async () => {
    try {
      const { data, errors } = await api.call('ClientProfile', { id: clientId }, PURPOSE);
      setState({ client: data.client, sections: sectionErrors(errors, 'client'),
        error: data.client ? null : errorFor(errors, 'client') });
    } catch (err) {
      setState({ error: err.code });
    }
  };
  useEffect(() => { load(); }, [clientId]);
  if (state.loading) return html`<p role="status">${t('common.loading')}</p>`;
  if (state.error) return html`<${Alert} kind="error">${errorText(state.error)}<//>`;
  const client = state.client;
  const now = new Date();
  const upcoming = (client.appointments?.items || []).filter((a) => new Date(a.scheduledAt) >= now);
  const notices = (client.benefits?.cases || []).flatMap((c) => c.notices.map((n) => ({ ...n, agency: c.agency })))
    .filter((n) => n.responseDueOn && new Date(`${n.responseDueOn}T23:59:59`) >= now);
  return html`<section class="cb-section" aria-labelledby="coming-h">
      <h2 id="coming-h">${t('client.comingUp')}</h2>
      <${Table} caption=${t('client.comingUp')} empty=${t('client.nothingComing')}
        head=${[t('col.when'), t('col.what'), t('col.agency')]}
        rows=${[...upcoming.map((a) => [formatDateTime(a.scheduledAt), code(a.type), a.agency]),
          ...notices.map((n) => [formatDate(n.responseDueOn), t('client.noticeDue', { type: code(n.type) }),
            n.agency])]} />
    </section>
    <${ProfileSections} client=${client} errors=${state.sections} onRetry=${load} api=${api} purpose=${PURPOSE}
      onChanged=${load} selfOrg=${selfOrg} />`;
}

function OwnConsents({ api, clientId, organizations }) {
  const [giving, setGiving] = useState(false);
  const [version, setVersion] = useState(0);
  const [notice, setNotice] = useState(null);
  return html`<p>${t('client.consents.intro')}</p>
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${giving
      ? html`<${ConsentForm} api=${api} clientId=${clientId} purpose=${PURPOSE} organizations=${organizations}
          onDone=${() => { setGiving(false); setNotice(t('consent.recorded')); setVersion(version + 1); }}
          onCancel=${() => setGiving(false)} />`
      : html`<button type="button" class="usa-button" onClick=${() => setGiving(true)}>${t('consent.give')}</button>`}
    <${ConsentList} key=${version} api=${api} clientId=${clientId} purpose=${PURPOSE} self canRevoke canChange
      organizations=${organizations}
      onChanged=${(what) => setNotice(t(what === 'revoked' ? 'consent.revoked' : 'consent.changed'))} />`;
}

function Disclosures({ api, clientId }) {
  const [entries, setEntries] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.call('DisclosureReport', { clientId }, PURPOSE).then(({ data }) => setEntries(data.disclosureReport))
      .catch((err) => setError(errorText(err.code, err)));
  }, [clientId]);
  return html`<section class="cb-section" aria-labelledby="seen-h">
    <h2 id="seen-h">${t('client.seen.title')}</h2><p>${t('client.seen.intro')}</p>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${entries && html`<${Table} caption=${t('client.seen.title')} empty=${t('client.seen.none')}
      head=${[t('col.when'), t('col.who'), t('col.what'), t('col.agency'), t('col.why'), t('col.basis')]}
      rows=${entries.map((e) => [formatDateTime(e.at), e.organization, word('Category', e.category.toUpperCase()),
        e.agency,
        word('Purpose', (e.purpose || '').toUpperCase()), e.breakGlass ? t('client.seen.emergency')
        : word('Basis', e.basis)])} />`}
  </section>`;
}

function OwnContact({ api, clientId, languages, selfOrg }) {
  const [contact, setContact] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [adding, setAdding] = useState(false);
  const load = async () => {
    try {
      const { data } = await api.call('ClientContact', { id: clientId }, PURPOSE);
      setContact(data.client?.contact || null);
      setError(null);
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  useEffect(() => { load(); }, [clientId]);
  const changed = (key) => {
    setAdding(false);
    setNotice(t(key));
    load();
  };
  return html`<p>${t('client.contact.intro')}</p>
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    <section class="cb-section" aria-labelledby="own-contact-h"><h2 id="own-contact-h">${t('section.contact')}</h2>
      ${contact && html`<${ContactList} api=${api} contact=${contact} purpose=${PURPOSE} onChanged=${changed}
        selfOrg=${selfOrg} />`}
      ${contact?.messages && html`<${MessageList} messages=${contact.messages} />`}
    </section>
    ${adding
      ? html`<${ContactForm} api=${api} clientId=${clientId} purpose=${PURPOSE} languages=${languages}
          current=${contact?.preferences} onDone=${changed} onCancel=${() => setAdding(false)} />`
      : html`<button type="button" class="usa-button" onClick=${() => setAdding(true)}>${t('contact.change')}</button>`}`;
}
