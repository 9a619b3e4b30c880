// The console's entry: configuration, language, sign-in, then the view for the signed-in person's role.
import { html, render, useEffect, useState } from '../vendor/preact-htm.js';
import { Api } from './api.js';
import { Auth, forgetTab } from './auth.js';
import { language, preferredLanguage, t, useLanguage, word } from './i18n.js';
import { Shell } from './views/common.js';
import { CaseworkerHome } from './views/caseworker.js';
import { ClientHome } from './views/client.js';
import { AuditorHome } from './views/auditor.js';
import { StewardHome } from './views/steward.js';

const root = document.getElementById('root');

// Which view a role opens; the first role the person holds in this order wins.
const VIEWS = [
  ['CLIENT', ClientHome],
  ['CASEWORKER', CaseworkerHome],
  ['PARTNER', CaseworkerHome],
  ['IDENTITY_STEWARD', StewardHome],
  ['AUDITOR', AuditorHome],
];

function App({ config, auth, initialUser, signInFailed }) {
  const [user, setUser] = useState(initialUser);
  const [me, setMe] = useState(null);
  const [problem, setProblem] = useState(signInFailed ? 'signin-failed' : null);
  const [, setLang] = useState(language);
  const [viewRole, setViewRole] = useState(sessionStorage.getItem('casebridge.view'));
  const [api] = useState(() => new Api(config, auth, () => setProblem('expired')));

  useEffect(() => {
    auth.onChange = async (what) => {
      if (what === 'renewed') {
        setUser(await auth.manager.getUser());
        setProblem(null);
      } else {
        setProblem('expired');
      }
    };
  }, []);

  useEffect(() => {
    if (!user) return;
    api.call('Me').then(({ data }) => {
      // What a tab remembers (the purpose, emergency grants) belongs to one person: another starts afresh.
      if (sessionStorage.getItem('casebridge.subject') !== data.me.subject) {
        forgetTab();
        sessionStorage.setItem('casebridge.subject', data.me.subject);
      }
      setMe(data.me);
    }).catch((err) => setProblem(err.code === 'UNAUTHENTICATED'
      ? 'expired' : 'unavailable'));
  }, [user?.profile?.sub]); // once per person signed in, not at every token renewal

  const changeLanguage = async (code) => {
    await useLanguage(code);
    setLang(code);
  };
  const shell = (body) => html`<${Shell} config=${config} me=${me} auth=${auth} onLanguage=${changeLanguage}
    problem=${problem}>${body}<//>`;

  if (!user) {
    return shell(html`<h1>${t('signin.title')}</h1><p>${t('signin.intro')}</p>
      <button type="button" class="usa-button" onClick=${() => auth.signIn()}>${t('signin.button')}</button>`);
  }
  if (!me) return shell(html`<p>${problem ? '' : t('common.loading')}</p>`);
  // A person may hold several roles (a caseworker who is also an identity steward): one view at a time, theirs
  // to switch; what each view may do is still the API's to decide.
  const mine = VIEWS.filter(([role]) => me.roles.includes(role))
    .filter(([, view], i, all) => all.findIndex(([, other]) => other === view) === i);
  if (!mine.length) return shell(html`<h1>${t('role.none.title')}</h1><p>${t('role.none.body')}</p>`);
  const chosen = mine.find(([role]) => role === viewRole) || mine[0];
  const View = chosen[1];
  const switcher = mine.length > 1 && html`<div class="usa-form-group cb-view">
    <label class="usa-label" for="view-as">${t('role.viewAs')}</label>
    <select class="usa-select" id="view-as" value=${chosen[0]} onChange=${(e) => {
      sessionStorage.setItem('casebridge.view', e.target.value);
      window.location.hash = '#/';
      setViewRole(e.target.value);
    }}>${mine.map(([role]) => html`<option value=${role}>${word('Role', role)}</option>`)}</select></div>`;
  return shell(html`${switcher}<${View} key=${chosen[0]} api=${api} me=${me} config=${config} />`);
}

async function boot() {
  const config = await (await fetch('/app/config.json')).json();
  await useLanguage(preferredLanguage(config.languages));
  const auth = new Auth(config, () => {});
  let user = null;
  let failed = false;
  try {
    user = await auth.start();
  } catch {
    failed = true;
  }
  render(html`<${App} config=${config} auth=${auth} initialUser=${user} signInFailed=${failed} />`, root);
}

boot().catch(() => {
  root.textContent = 'casebridge could not start. Reload the page; if it persists, tell your administrator. / '
    + 'casebridge no pudo iniciar. Vuelva a cargar la página; si continúa, avise a su administrador.';
});
