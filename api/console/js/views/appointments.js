// Appointments from every agency in one list, each with its reminders (by which channel, what became of them);
// for staff, scheduling one for their organisation and keeping it up to date. What each may see and change is
// the API's to decide: a button it refuses says so.
import { html, useState } from '../../vendor/preact-htm.js';
import { code, formatDateTime, t, word } from '../i18n.js';
import { Alert, Table, TextField, errorText, useFocus } from './common.js';

const TYPES = ['HOUSING_INTERVIEW', 'INTAKE', 'LEGAL_CONSULTATION', 'BENEFITS_APPOINTMENT', 'SCHOOL_MEETING',
  'HEALTH_APPOINTMENT', 'CASE_REVIEW', 'OTHER'];
const MODES = ['IN_PERSON', 'PHONE', 'VIDEO'];
const AT_STAKE = ['HOUSING_PLACEMENT', 'SHELTER_ELIGIBILITY', 'BENEFITS_RECERTIFICATION', 'BENEFITS_ELIGIBILITY',
  'LEGAL_DEADLINE', 'SCHOOL_ENROLLMENT', 'WORK_AUTHORIZATION'];
const OPEN = ['SCHEDULED', 'RESCHEDULED'];

function reminderText(r) {
  const when = r.sentAt ? formatDateTime(r.sentAt) : formatDateTime(r.sendAfter);
  return t('reminder.line', { channel: word('Channel', r.channel), status: word('MessageStatus', r.status), when });
}

// The appointments the profile showed. `org`: the caller's organisation (staff update their own).
export function AppointmentList({ appointments, api = null, purpose = null, org = null, onChanged = () => {} }) {
  const [error, setError] = useState(null);
  const change = async (a, status) => {
    try {
      await api.call('UpdateAppointment', { id: a.appointmentId, status }, purpose);
      setError(null);
      onChanged('appointment.updated');
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const mine = (a) => api && org && a.heldHere && a.agency === org && OPEN.includes(a.status);
  return html`${error && html`<${Alert} kind="error" slim>${error}<//>`}
    <${Table} caption=${t('section.appointments')} head=${[t('col.when'), t('col.what'), t('col.agency'),
      t('appointments.mode'), t('col.status'), t('appointments.reminders')]}
      rows=${appointments.map((a) => [
        formatDateTime(a.scheduledAt),
        html`${code(a.type)}${a.atStake && html`<br /><span class="cb-muted">${t('appointments.atStake', {
          what: code(a.atStake) })}</span>`}`,
        a.agency,
        [code(a.mode), a.location].filter(Boolean).join(', '),
        html`<span data-appointment-status=${a.status}>${code(a.status)}</span>${mine(a) && html`
          <span class="cb-actions">${['COMPLETED', 'MISSED', 'CANCELED'].map((s) => html` <button type="button"
            class="usa-button usa-button--unstyled" onClick=${() => change(a, s)}>${t(`appointment.mark.${s}`)}
            </button>`)}</span>`}`,
        (a.reminders || []).length
          ? html`<ul class="cb-plain">${a.reminders.map((r) => html`<li data-reminder=${r.status}>
              ${reminderText(r)}</li>`)}</ul>`
          : html`<span class="cb-muted">${t('appointments.noReminders')}</span>`,
      ])} />`;
}

// Schedule an appointment with the client, for the caller's organisation.
export function AppointmentForm({ api, clientId, purpose, onDone, onCancel }) {
  const [type, setType] = useState('HOUSING_INTERVIEW');
  const [day, setDay] = useState('');
  const [time, setTime] = useState('10:00');
  const [mode, setMode] = useState('IN_PERSON');
  const [location, setLocation] = useState('');
  const [minutes, setMinutes] = useState('');
  const [atStake, setAtStake] = useState('');
  const [error, setError] = useState(null);
  const heading = useFocus();
  const submit = async (e) => {
    e.preventDefault();
    const when = day && time ? new Date(`${day}T${time}`) : null; // the browser's local time
    if (!when || Number.isNaN(when.getTime())) {
      setError(t('appointment.whenMissing'));
      return;
    }
    try {
      await api.call('ScheduleAppointment', {
        clientId, type, scheduledAt: when.toISOString(), mode, location: location.trim() || null,
        durationMinutes: minutes ? Number(minutes) : null, atStake: atStake || null }, purpose);
      onDone();
    } catch (err) {
      setError(errorText(err.code, err));
    }
  };
  const select = (id, label, value, set, options, blank = null) => html`
    <label class="usa-label" for=${id}>${label}</label>
    <select class="usa-select" id=${id} value=${value} onChange=${(e) => set(e.target.value)}>
      ${blank && html`<option value="">${blank}</option>`}
      ${options.map((o) => html`<option value=${o}>${code(o)}</option>`)}</select>`;
  return html`<form class="usa-form usa-form--large cb-section" onSubmit=${submit}>
    <h2 ref=${heading} tabindex="-1">${t('appointment.schedule')}</h2>
    ${error && html`<${Alert} kind="error" slim>${error}<//>`}
    ${select('appt-type', t('col.type'), type, setType, TYPES)}
    <div class="cb-grid cb-grid--two">
      <${TextField} id="appt-day" type="date" label=${t('appointment.day')} value=${day} onInput=${setDay} required />
      <${TextField} id="appt-time" type="time" label=${t('appointment.time')} value=${time} onInput=${setTime}
        required />
    </div>
    ${select('appt-mode', t('appointments.mode'), mode, setMode, MODES)}
    <${TextField} id="appt-location" label=${t('appointment.location')} hint=${t('appointment.location.hint')}
      value=${location} onInput=${setLocation} maxlength="255" />
    <${TextField} id="appt-minutes" type="number" label=${t('appointment.minutes')} value=${minutes}
      onInput=${setMinutes} min="5" max="480" />
    ${select('appt-stake', t('appointment.atStake'), atStake, setAtStake, AT_STAKE, t('appointment.nothingAtStake'))}
    <button type="submit" class="usa-button">${t('appointment.save')}</button>
    <button type="button" class="usa-button usa-button--unstyled" onClick=${onCancel}>${t('common.cancel')}</button>
  </form>`;
}

// The messages sent (or to be sent) to the client: when, how, what became of each, and the words.
export function MessageList({ messages }) {
  return html`<h3>${t('messages.title')}</h3>
    <${Table} caption=${t('messages.title')} empty=${t('messages.none')}
      head=${[t('col.when'), t('messages.about'), t('messages.channel'), t('col.status'), t('messages.words')]}
      rows=${(messages || []).map((m) => [formatDateTime(m.sentAt || m.sendAfter), m.about, word('Channel', m.channel),
        html`<span data-message=${m.status}>${word('MessageStatus', m.status)}</span>`,
        m.body || html`<span class="cb-muted">${t('messages.notYet')}</span>`])} />`;
}
