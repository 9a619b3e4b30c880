// The unified profile's sections, each with the state of every agency's part: shown (with its basis and date),
// withheld (why, and what would open it), failed (the agency did not answer; retry).
import { html, useState } from '../../vendor/preact-htm.js';
import { code, t, tOr, word } from '../i18n.js';
import { Alert, Section, Table, TextField, errorText, formatDate, formatDateTime } from './common.js';
import { AppointmentList, MessageList } from './appointments.js';
import { ContactList } from './contact.js';

const yes = (value) => (value ? t('common.yes') : t('common.no'));

export function ProfileSections({ client, errors = {}, onRetry, api = null, purpose = null, staff = false,
  onChanged = () => {}, selfOrg = null, org = null }) {
  const records = client.identity?.records || [];
  const cases = client.benefits?.cases || [];
  const notices = cases.flatMap((c) => c.notices.map((n) => ({ ...n, agency: c.agency })));
  const enrollments = client.housing?.enrollments || [];
  const students = client.schooling?.students || [];
  const appointments = client.appointments?.items || [];
  const documents = client.documents?.items || [];
  const notes = client.casework?.notes || [];
  return html`
    ${html`<${Section} id="identity" title=${t('section.identity')} section=${client.identity} error=${errors.identity}
      onRetry=${onRetry} selfOrg=${selfOrg}>
      <${Table} caption=${t('section.identity')} head=${[t('col.agency'), t('field.name'), t('field.dateOfBirth'),
        t('field.sex')]} rows=${records.map((r) => [r.agency, [r.firstName, r.middleName, r.lastName]
        .filter(Boolean).join(' '), formatDate(r.dateOfBirth), r.sex || ''])} /><//>`}
    ${html`<${Section} id="benefits" title=${t('section.benefits')} section=${client.benefits} error=${errors.benefits}
      onRetry=${onRetry} selfOrg=${selfOrg}>
      ${cases.map((c) => html`<div class="cb-record"><h3>${t('benefits.case', { number: c.caseNumber,
        agency: c.agency })}</h3><p>${t('benefits.status', { status: code(c.status), size: c.householdSize })}</p>
        <${Table} caption=${t('benefits.programs')} head=${[t('benefits.program'), t('col.status'),
          t('benefits.certificationEnd')]} rows=${c.programs.map((p) => [code(p.program), code(p.status),
          formatDate(p.certificationEnd)])} /></div>`)}
      <h3>${t('benefits.notices')}</h3>
      <${Table} caption=${t('benefits.notices')} head=${[t('col.type'), t('benefits.issuedOn'),
        t('benefits.responseDue')]} rows=${notices.map((n) => [code(n.type), formatDate(n.issuedOn),
        formatDate(n.responseDueOn)])} /><//>`}
    ${html`<${Section} id="housing" title=${t('section.housing')} section=${client.housing} error=${errors.housing}
      onRetry=${onRetry} selfOrg=${selfOrg}>
      <p>${client.housing?.inShelterNow ? t('housing.inShelter') : t('housing.notInShelter')}</p>
      ${client.housing?.chronicHomelessness && html`<${Chronic} chronic=${client.housing.chronicHomelessness} />`}
      <${Table} caption=${t('section.housing')} head=${[t('housing.project'), t('housing.type'), t('housing.entry'),
        t('housing.moveIn'), t('housing.exit'), t('col.status')]} rows=${enrollments.map((e) => [e.projectName,
        e.projectTypeName, formatDate(e.entryDate), formatDate(e.moveInDate), formatDate(e.exitDate), code(e.status)])} /><//>`}
    ${html`<${Section} id="schooling" title=${t('section.schooling')} section=${client.schooling} error=${errors.schooling}
      onRetry=${onRetry} selfOrg=${selfOrg}>
      ${students.map((s) => html`<div class="cb-record">
        <p>${t('schooling.current', { school: s.currentSchool || '-', grade: s.currentGrade || '-' })}</p>
        <p>${t('schooling.homelessProgram')}: ${yes(s.inHomelessProgramNow)}</p>
        <${Table} caption=${t('schooling.transfers')} head=${[t('schooling.from'), t('schooling.to'),
          t('schooling.daysOut'), t('schooling.pending')]} rows=${s.transfers.map((x) => [x.fromSchool || '',
          x.toSchool || '', String(x.daysOutOfSchool), yes(x.pending)])} /></div>`)}<//>`}
    ${html`<${Section} id="appointments" title=${t('section.appointments')}
      section=${client.appointments} error=${errors.appointments} onRetry=${onRetry} selfOrg=${selfOrg}>
      <${AppointmentList} appointments=${appointments} api=${staff ? api : null} purpose=${purpose} org=${org}
        onChanged=${onChanged} /><//>`}
    ${html`<${Section} id="documents" title=${t('section.documents')} section=${client.documents} error=${errors.documents}
      onRetry=${onRetry} selfOrg=${selfOrg}>
      <${Table} caption=${t('section.documents')} head=${[t('col.type'), t('col.agency'), t('documents.due'),
        t('col.status')]} rows=${documents.map((d) => [code(d.type), d.agency, formatDate(d.dueOn), code(d.status)])} /><//>`}
    ${html`<${Section} id="casework" title=${t('section.casework')} section=${client.casework} error=${errors.casework}
      onRetry=${onRetry} selfOrg=${selfOrg}>
      ${notes.length ? notes.map((n) => html`<div class="cb-record"><p class="cb-muted">${t('casework.by', {
        agency: n.agency, when: formatDateTime(n.createdAt) })}${n.sharedWithClient ? ` · ${t('casework.shared')}`
        : ''}</p><p>${n.text}</p></div>`) : html`<p class="cb-muted">${t('common.nothing')}</p>`}<//>`}
    ${html`<${Section} id="immigrationLegal" title=${t('section.immigrationLegal')} section=${client.immigrationLegal}
      error=${errors.immigrationLegal} onRetry=${onRetry} selfOrg=${selfOrg}>
      <${Table} caption=${t('section.immigrationLegal')} head=${[t('legal.milestone'), t('col.when'), t('col.agency'),
        '']} rows=${(client.immigrationLegal?.milestones || []).map((m) => [
        html`<span data-milestone=${m.milestone} data-error=${m.enteredInError ? 'yes' : undefined}>${m.enteredInError
          ? html`<s>${word('LegalMilestoneKind', m.milestone)}</s> (${t('legal.inError')})`
          : word('LegalMilestoneKind', m.milestone)}</span>`, formatDate(m.occurredOn), m.agency,
        staff && api && m.agency === org && !m.enteredInError ? html`<${InError} api=${api} purpose=${purpose}
          milestone=${m} onChanged=${onChanged} />` : ''])} /><//>`}
    ${staff && api && html`<${LegalForm} api=${api} purpose=${purpose} clientId=${client.id}
      onChanged=${onChanged} />`}
    ${html`<${Section} id="contact" title=${t('section.contact')} section=${client.contact}
      error=${errors.contact} onRetry=${onRetry} selfOrg=${selfOrg}>
      <${ContactList} api=${api} contact=${client.contact} purpose=${purpose} staff=${staff}
        onChanged=${onChanged} selfOrg=${selfOrg} />
      ${client.contact?.messages && html`<${MessageList} messages=${client.contact.messages} />`}<//>`}`;
}


// Chronic homelessness from the shelter system's own records (HUD's definition), with the stays that support it.
function Chronic({ chronic }) {
  const reason = tOr(`chronic.reason.${chronic.reason}`, chronic.reason);
  return html`<div class="cb-record" data-chronic=${chronic.status}>
    <p><strong>${t('housing.chronic', { status: word('ChronicStatus', chronic.status),
      date: formatDate(chronic.entryDate) })}</strong> <span class="cb-muted">(${reason})</span></p>
    ${chronic.supportingStays.length > 0 && html`<p>${t('housing.chronic.support')}</p>
      <ul class="cb-plain">${chronic.supportingStays.map((s) => html`<li>${s.projectName}: ${formatDate(s.entryDate)}
        – ${s.exitDate ? formatDate(s.exitDate) : t('housing.chronic.open')}</li>`)}</ul>`}
  </div>`;
}

const MILESTONES = ['ASYLUM_APPLICATION_FILED', 'TPS_APPLICATION_FILED', 'PAROLE_OR_STATUS_GRANTED',
  'REPRESENTATION_AGREED', 'CHANGE_OF_ADDRESS_FILED', 'BIOMETRICS_ATTENDED', 'WORK_AUTHORIZATION_FILED',
  'WORK_AUTHORIZATION_GRANTED', 'WORK_AUTHORIZATION_DENIED', 'HEARING_SCHEDULED', 'HEARING_ATTENDED',
  'DECISION_RECEIVED'];

// Staff record a step of the client's immigration or legal case for their organisation (what happened, the day):
// others see it only by the client's consent naming it.
function LegalForm({ api, purpose, clientId, onChanged }) {
  const [milestone, setMilestone] = useState(MILESTONES[0]);
  const [on, setOn] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await api.call('RecordLegalMilestone', { clientId, milestone, occurredOn: on }, purpose);
      setError(null);
      onChanged('legal.recorded');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  return html`<details class="cb-section"><summary>${t('legal.record')}</summary>
    <form class="usa-form" onSubmit=${submit} data-section="legal-form">
      <p class="usa-hint">${t('legal.record.hint')}</p>
      ${error && html`<${Alert} kind="error" slim>${error}<//>`}
      <label class="usa-label" for="legal-milestone">${t('legal.milestone')}</label>
      <select class="usa-select" id="legal-milestone" value=${milestone} onChange=${(e) => setMilestone(e.target.value)}>
        ${MILESTONES.map((m) => html`<option value=${m}>${word('LegalMilestoneKind', m)}</option>`)}</select>
      <${TextField} id="legal-on" type="date" label=${t('legal.on')} hint=${t('legal.on.hint')} value=${on}
        onInput=${setOn} required />
      <button type="submit" class="usa-button">${t('legal.save')}</button></form></details>`;
}

function InError({ api, purpose, milestone, onChanged }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState(null);
  const what = word('LegalMilestoneKind', milestone.milestone);
  const mark = async () => {
    try {
      await api.call('MarkLegalMilestoneInError', { id: milestone.id }, purpose);
      onChanged('legal.markedInError');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  if (!asking) {
    return html`<button type="button" class="usa-button usa-button--unstyled" onClick=${() => setAsking(true)}>
      ${t('legal.markInError')}<span class="usa-sr-only">: ${what}</span></button>`;
  }
  // kept, and no longer counted: a step marked so cannot be counted again (record it anew)
  return html`<span role="group" aria-label=${t('legal.markInError.confirm')}>${t('legal.markInError.confirm')}
    <button type="button" class="usa-button usa-button--secondary" onClick=${mark}>${t('legal.markInError.yes')}
      <span class="usa-sr-only">: ${what}</span></button>
    <button type="button" class="usa-button usa-button--unstyled" onClick=${() => setAsking(false)}>${t(
      'common.cancel')}</button>${error && html`<span class="usa-error-message">${error}</span>`}</span>`;
}
