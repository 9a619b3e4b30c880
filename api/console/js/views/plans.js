// A client's plan and referrals: the plan as a checklist a client can read on a phone (goals, their dates, the steps
// and who does each; the client marks done what is theirs), the referrals with where each stands; looking up the
// city's directory to refer (staff) or apply (the client); and a partner's inbox of referrals to answer. Staff make
// a plan and keep their organisation's: goals added (for the client or a household member), steps with owners and
// dates, progress notes with the barriers met, the evidence checked. What each
// person may see and do is the API's to decide: what it refuses, the page says.
import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { formatDate, formatDateTime, t, tOr, word } from '../i18n.js';
import { Alert, Checkboxes, Table, TextField, errorText } from './common.js';

const SHAREABLE = ['IDENTITY', 'CONTACT', 'DOCUMENTS', 'APPOINTMENTS'];
const REASONS = ['NOT_ELIGIBLE', 'NO_CAPACITY', 'CLIENT_DECLINED', 'CLIENT_UNREACHABLE', 'SERVICE_UNAVAILABLE',
  'CLIENT_MOVED', 'DUPLICATE', 'OTHER'];
// what the organisation that answers may do next, from each status (the API says the same, and refuses the rest)
const NEXT = { REQUESTED: ['ACCEPTED', 'REJECTED'], RECEIVED: ['ACCEPTED', 'REJECTED'],
  ACCEPTED: ['IN_PROGRESS', 'COMPLETED', 'FAILED'], IN_PROGRESS: ['COMPLETED', 'FAILED', 'ON_HOLD'],
  ON_HOLD: ['IN_PROGRESS', 'COMPLETED', 'FAILED'] };
const OPEN = ['REQUESTED', 'RECEIVED', 'ACCEPTED', 'IN_PROGRESS', 'ON_HOLD'];
const HORIZONS = [30, 60, 90];
const OWNERS = ['CASEWORKER', 'PARTNER', 'CLIENT'];
const CHANGES = ['STARTED', 'STEP_DONE', 'WAITING_ON_OTHERS', 'SETBACK', 'COMPLETED', 'NO_CHANGE'];
const BARRIERS = ['DOCUMENTS_MISSING', 'LANGUAGE', 'CHILDCARE', 'TRANSPORTATION', 'WAITING_LIST', 'NOT_ELIGIBLE',
  'HEALTH', 'HOUSING_UNSTABLE', 'COST', 'LEGAL_STATUS', 'CONTACT_LOST', 'OTHER'];
// where a goal may go next (the API says the same, and refuses the rest)
const GOAL_NEXT = { OPEN: ['IN_PROGRESS', 'MET', 'NOT_MET', 'DROPPED'], IN_PROGRESS: ['OPEN', 'MET', 'NOT_MET', 'DROPPED'],
  MET: ['IN_PROGRESS'], NOT_MET: ['IN_PROGRESS', 'DROPPED'], DROPPED: [] };

export function PlanAndReferrals({ api, clientId, purpose, self = false, org = null }) {
  const [casework, setCasework] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = async () => {
    try {
      const { data } = await api.call('ClientCasework', { id: clientId }, purpose);
      setCasework(data.client?.casework ? { ...data.client.casework, kinds: data.client.planGoals || [] } : null);
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
  const keeps = (plan) => !self && plan.agency === org; // the plan's organisation keeps it (the API decides)
  const kinds = casework ? casework.kinds : [];
  return html`<section class="cb-section" aria-labelledby="plan-h" data-section="plan">
    <h2 id="plan-h">${t('plan.title')}</h2>
    ${notice && html`<${Alert} kind="success" slim focus key=${notice}>${notice}<//>`}
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${casework && !(casework.plans || []).length && html`<p class="cb-muted">${t('plan.none')}</p>`}
    ${(casework?.plans || []).map((p) => html`<div data-plan=${p.id}>
      <p>${t('plan.summary', { days: p.horizonDays, from: formatDate(p.startsOn), to: formatDate(p.endsOn),
        met: p.met, goals: p.goals.length, agency: p.agency })}</p>
      <ul class="cb-plain cb-checklist">${p.goals.map((g) => html`<li data-goal=${g.code || g.id}
        data-member=${g.memberId || undefined} data-status=${g.status}>
        <h3>${g.name}${g.memberId ? ` · ${t('plan.forMember')}` : ''} <span class="usa-tag">${word('PlanGoalStatus',
          g.status)}</span></h3>
        ${g.memberId && !self && html`<p><a class="usa-link" href=${`#/client/${encodeURIComponent(g.memberId)}`}>
          ${t('plan.openMember')}</a></p>`}
        ${g.metBy === 'EVIDENCE' && html`<p class="cb-muted">${t('plan.metByEvidence', {
          date: formatDate(g.metOn), what: t(`plan.evidence.${g.evidence}`) })}</p>`}
        ${g.dueOn && html`<p>${t('plan.dueOn', { date: formatDate(g.dueOn) })}</p>`}
        ${g.notBefore && html`<p>${t('plan.notBefore', { date: formatDate(g.notBefore) })}</p>`}
        <ul class="cb-plain">${g.tasks.map((k) => html`<li data-task=${k.id} data-status=${k.status}>
          ${k.status === 'DONE' ? '✓ ' : ''}${k.title} · ${word('PlanTaskOwner', k.owner)}${k.ownerOrg
            ? ` (${k.ownerOrg})` : ''}${k.dueOn ? ` · ${t('plan.by', { date: formatDate(k.dueOn) })}` : ''}
          ${k.status === 'OPEN' && mine(k) && html` <button type="button" class="usa-button usa-button--unstyled"
            onClick=${() => step(k, 'DONE')}>${t('plan.markDone')}</button>`}</li>`)}</ul>
        ${!self && g.notes.length > 0 && html`<ul class="cb-plain cb-muted">${g.notes.map((n) => html`<li>
          ${formatDateTime(n.at)}: ${word('ProgressChange', n.change)}${n.barriers.length ? ` (${n.barriers.map(
            (b) => word('Barrier', b)).join(', ')})` : ''}</li>`)}</ul>`}
        ${keeps(p) && html`<${GoalTools} api=${api} purpose=${purpose} goal=${g}
          onDone=${done} onError=${fail} />`}
      </li>`)}</ul>
      ${keeps(p) && html`<${PlanTools} api=${api} purpose=${purpose} plan=${p} clientId=${clientId} kinds=${kinds}
        onDone=${done} onError=${fail} />`}</div>`)}
    ${casework && !self && !(casework.plans || []).some((p) => p.agency === org) && html`<${NewPlan} api=${api}
      clientId=${clientId} purpose=${purpose} kinds=${kinds} onDone=${done} onError=${fail} />`}
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

// Staff: a new plan for the client - how far it looks, when the client arrived (the clocks the law counts from it),
// goals from the city's catalogue, free goals, and goals for other members of the household (each child's school).
function NewPlan({ api, clientId, purpose, kinds, onDone, onError }) {
  const [horizon, setHorizon] = useState(60);
  const [arrived, setArrived] = useState('');
  const [chosen, setChosen] = useState([]);
  const [free, setFree] = useState('');
  const [memberCode, setMemberCode] = useState(null); // the catalogue's school goal, else its first
  const [members, setMembers] = useState([]); // [{ id, name }]
  const pick = (m) => setMembers(members.some((x) => x.id === m.id) ? members : [...members, m]);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await api.call('CreatePlan', { clientId, horizonDays: Number(horizon), arrivedOn: arrived || null,
        goals: chosen, freeGoals: free.split('\n').map((x) => x.trim()).filter(Boolean),
        memberGoals: members.map((m) => ({ code: memberCode || defaultMemberGoal(kinds), memberId: m.id })) },
        purpose);
      onDone('plan.made');
    } catch (err) {
      onError(err);
    }
  };
  return html`<form class="usa-form usa-form--large" onSubmit=${submit} data-section="new-plan">
    <h3>${t('plan.new')}</h3>
    <label class="usa-label" for="plan-horizon">${t('plan.horizon')}</label>
    <select class="usa-select" id="plan-horizon" value=${horizon} onChange=${(e) => setHorizon(e.target.value)}>
      ${HORIZONS.map((d) => html`<option value=${d}>${t('plan.days', { days: d })}</option>`)}</select>
    <${TextField} id="plan-arrived" type="date" label=${t('plan.arrivedOn')} hint=${t('plan.arrivedOn.hint')}
      value=${arrived} onInput=${setArrived} />
    <${Checkboxes} name="plan-goals" legend=${t('plan.goals')} chosen=${chosen} onChange=${setChosen}
      options=${kinds.map((k) => [k.code, k.name])} />
    <${TextField} id="plan-free" type="textarea" label=${t('plan.freeGoals')} hint=${t('plan.freeGoals.hint')}
      value=${free} onInput=${setFree} />
    <fieldset class="usa-fieldset"><legend class="usa-legend">${t('plan.members')}</legend>
      <label class="usa-label" for="plan-member-goal">${t('plan.memberGoal')}</label>
      <select class="usa-select" id="plan-member-goal" value=${memberCode || defaultMemberGoal(kinds)}
        onChange=${(e) => setMemberCode(e.target.value)}>
        ${kinds.map((k) => html`<option value=${k.code}>${k.name}</option>`)}</select>
      ${members.length > 0 && html`<ul class="cb-plain" data-testid="plan-members">${members.map((m) => html`<li>
        ${m.name} <button type="button" class="usa-button usa-button--unstyled"
          onClick=${() => setMembers(members.filter((x) => x.id !== m.id))}>${t('plan.memberRemove')}<span
          class="usa-sr-only">: ${m.name}</span></button></li>`)}</ul>`}
      <${Household} api=${api} purpose=${purpose} clientId=${clientId} onPick=${pick} /></fieldset>
    <button type="submit" class="usa-button">${t('plan.make')}</button>
  </form>`;
}

function defaultMemberGoal(kinds) {
  return (kinds.find((k) => k.evidence === 'schooling-enrolled') || kinds[0] || {}).code || '';
}

// Staff, on their organisation's plan: check the evidence, add a goal.
function PlanTools({ api, purpose, plan, clientId, kinds, onDone, onError }) {
  const [code, setCode] = useState('');
  const [title, setTitle] = useState('');
  const [member, setMember] = useState(null); // { id, name }
  const act = async (call, key) => {
    try {
      await call();
      onDone(key);
    } catch (err) {
      onError(err);
    }
  };
  const add = (e) => {
    e.preventDefault();
    act(() => api.call('AddPlanGoal', { planId: plan.id, code: code || null, title: code ? null : title.trim() || null,
      memberId: member ? member.id : null }, purpose), 'plan.goalAdded');
  };
  return html`<div class="cb-actions">
    <button type="button" class="usa-button usa-button--outline" onClick=${() => act(
      () => api.call('CheckPlanEvidence', { planId: plan.id }, purpose), 'plan.checked')}>${t('plan.check')}</button>
    <details><summary>${t('plan.addGoal')}</summary>
      <form class="usa-form" onSubmit=${add}>
        <label class="usa-label" for=${`goal-code-${plan.id}`}>${t('plan.goalKind')}</label>
        <select class="usa-select" id=${`goal-code-${plan.id}`} value=${code} onChange=${(e) => setCode(e.target.value)}>
          <option value="">${t('plan.freeGoal')}</option>
          ${kinds.map((k) => html`<option value=${k.code}>${k.name}</option>`)}</select>
        ${!code && html`<${TextField} id=${`goal-title-${plan.id}`} label=${t('plan.goalTitle')} value=${title}
          onInput=${setTitle} maxlength="255" />`}
        <p>${t('plan.memberId')}: ${member ? html`${member.name} <button type="button"
          class="usa-button usa-button--unstyled" onClick=${() => setMember(null)}>${t('plan.memberRemove')}</button>`
          : t('plan.forClient')}</p>
        <${Household} api=${api} purpose=${purpose} clientId=${clientId} onPick=${setMember} />
        <button type="submit" class="usa-button">${t('plan.addGoal')}</button></form></details></div>`;
}

// The other members of the client's household the caller may see (the shelter system's records), each to add;
// asked for when the person asks (reading them is logged as any read).
function Household({ api, purpose, clientId, onPick }) {
  const [household, setHousehold] = useState(null);
  const load = () => api.call('ClientHousehold', { id: clientId }, purpose)
    .then(({ data }) => setHousehold(data.client?.household || [])).catch(() => setHousehold([]));
  if (household === null) {
    return html`<button type="button" class="usa-button usa-button--outline" onClick=${load}>${t('plan.showHousehold')}
      </button>`;
  }
  if (!household.length) return html`<p class="cb-muted">${t('plan.noHousehold')}</p>`;
  return html`<p>${t('plan.household')}</p><ul class="cb-plain" data-testid="household">
    ${household.map((m) => {
      const name = m.firstName || m.lastName ? `${[m.firstName, m.lastName].filter(Boolean).join(' ')}${
        m.dateOfBirth ? ` (${formatDate(m.dateOfBirth)})` : ''}` : t('search.nameWithheld');
      const how = tOr(`plan.relationship.${m.relationshipToHead}`, '');
      return html`<li>${name}${how ? ` · ${how}` : ''} <button type="button" class="usa-button usa-button--unstyled"
        onClick=${() => onPick({ id: m.clientId, name })}>${t('plan.memberAdd')}<span class="usa-sr-only">: ${name}
        </span></button></li>`;
    })}</ul>`;
}

// Staff, on a goal of their organisation's plan: a step (who, by when), a progress note (what changed, the barriers
// met) with the goal's new status where it changed.
function GoalTools({ api, purpose, goal, onDone, onError }) {
  const [title, setTitle] = useState('');
  const [owner, setOwner] = useState('CASEWORKER');
  const [ownerOrg, setOwnerOrg] = useState('');
  const [due, setDue] = useState('');
  const [change, setChange] = useState('STEP_DONE');
  const [barriers, setBarriers] = useState([]);
  const [status, setStatus] = useState('');
  const act = async (e, call, key) => {
    e.preventDefault();
    try {
      await call();
      onDone(key);
    } catch (err) {
      onError(err);
    }
  };
  if (goal.status === 'DROPPED') return null;
  const id = goal.id;
  return html`<details><summary>${t('plan.keepGoal')}<span class="usa-sr-only">: ${goal.name}</span></summary>
    <form class="usa-form" onSubmit=${(e) => act(e, () => api.call('AddPlanTask', { goalId: id, title: title.trim(),
      owner, ownerOrg: owner === 'PARTNER' ? ownerOrg.trim() : null, dueOn: due || null }, purpose), 'plan.stepAdded')}>
      <h4>${t('plan.addStep')}</h4>
      <${TextField} id=${`step-title-${id}`} label=${t('plan.stepTitle')} value=${title} onInput=${setTitle}
        required maxlength="255" />
      <label class="usa-label" for=${`step-owner-${id}`}>${t('plan.stepOwner')}</label>
      <select class="usa-select" id=${`step-owner-${id}`} value=${owner} onChange=${(e) => setOwner(e.target.value)}>
        ${OWNERS.map((o) => html`<option value=${o}>${word('PlanTaskOwner', o)}</option>`)}</select>
      ${owner === 'PARTNER' && html`<${TextField} id=${`step-org-${id}`} label=${t('plan.stepPartner')}
        value=${ownerOrg} onInput=${setOwnerOrg} required maxlength="64" />`}
      <${TextField} id=${`step-due-${id}`} type="date" label=${t('plan.stepDue')} value=${due} onInput=${setDue} />
      <button type="submit" class="usa-button usa-button--outline">${t('plan.addStep')}</button></form>
    <form class="usa-form" onSubmit=${(e) => act(e, () => api.call('UpdatePlanGoal', { goalId: id, change, barriers,
      status: status || null }, purpose), 'plan.noted')}>
      <h4>${t('plan.progress')}</h4>
      <label class="usa-label" for=${`note-change-${id}`}>${t('plan.change')}</label>
      <select class="usa-select" id=${`note-change-${id}`} value=${change} onChange=${(e) => setChange(e.target.value)}>
        ${CHANGES.map((c) => html`<option value=${c}>${word('ProgressChange', c)}</option>`)}</select>
      <${Checkboxes} name=${`note-barriers-${id}`} legend=${t('plan.barriers')} chosen=${barriers}
        onChange=${setBarriers} options=${BARRIERS.map((b) => [b, word('Barrier', b)])} />
      <label class="usa-label" for=${`note-status-${id}`}>${t('plan.newStatus')}</label>
      <select class="usa-select" id=${`note-status-${id}`} value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">${t('plan.statusSame')}</option>
        ${(GOAL_NEXT[goal.status] || []).map((x) => html`<option value=${x}>${word('PlanGoalStatus', x)}</option>`)}
      </select>
      <button type="submit" class="usa-button usa-button--outline">${t('plan.saveNote')}</button></form>
  </details>`;
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
