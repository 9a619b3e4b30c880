// An organisation's systems told of its referrals' changes: its webhook subscriptions with their latest calls
// (delivered, waiting for a retry, given up), a new one (the signing secret shown this once) and ending one. Staff
// of any organisation, partners' included, for their own organisation; the API decides.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { formatDateTime, t } from '../i18n.js';
import { Alert, Table, TextField, errorText } from './common.js';

export function WebhookSettings({ api, purpose }) {
  const [subs, setSubs] = useState(null);
  const [error, setError] = useState(null);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState(null);
  const load = () => api.call('WebhookSubscriptions', {}, purpose)
    .then(({ data }) => { setSubs(data.webhookSubscriptions); setError(null); })
    .catch((err) => setError(errorText(err.code, err)));
  useEffect(() => { if (purpose) load(); }, [purpose]);
  const subscribe = async (e) => {
    e.preventDefault();
    try {
      const { data } = await api.call('SubscribeWebhook', { url: url.trim() }, purpose);
      setSecret(data.subscribeWebhook.secret);
      setUrl('');
      load();
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const end = async (s) => {
    try {
      await api.call('EndWebhook', { id: s.id }, purpose);
      load();
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  if (!purpose) return null;
  return html`<details class="cb-section" data-section="webhooks"><summary>${t('webhook.title')}</summary>
    <p>${t('webhook.intro')}</p>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${secret && html`<${Alert} kind="warning" slim focus title=${t('webhook.secret')}><p>${t('webhook.secret.once')}</p>
      <p><code data-testid="webhook-secret">${secret}</code></p><//>`}
    ${subs && html`<${Table} caption=${t('webhook.title')} empty=${t('webhook.none')}
      head=${[t('webhook.url'), t('col.status'), t('webhook.calls'), '']}
      rows=${subs.map((s) => [html`<code>${s.url}</code>`,
        s.active ? t('webhook.active') : t('webhook.ended'),
        s.deliveries.length ? html`<ul class="cb-plain">${s.deliveries.slice(0, 5).map((d) => html`<li
          data-delivery=${d.status}>${formatDateTime(d.createdAt)}: ${t(`webhook.delivery.${d.status}`)}${
          d.lastResult ? ` (${d.lastResult})` : ''}</li>`)}</ul>` : t('webhook.noCalls'),
        s.active ? html`<button type="button" class="usa-button usa-button--unstyled" onClick=${() => end(s)}>
          ${t('webhook.end')}<span class="usa-sr-only">: ${s.url}</span></button>` : ''])} />`}
    <form class="usa-form usa-form--large" onSubmit=${subscribe}>
      <${TextField} id="webhook-url" type="url" label=${t('webhook.url')} hint=${t('webhook.url.hint')} value=${url}
        onInput=${setUrl} required maxlength="2000" />
      <button type="submit" class="usa-button usa-button--outline">${t('webhook.subscribe')}</button></form>
  </details>`;
}
