// Messages by key from a catalogue per language (locales/<code>.json); English fills what a catalogue lacks.
// A language is added by adding its catalogue: the gateway lists the catalogues it finds.
let catalogue = {};
let fallback = {};
export let language = 'en';

const STORED = 'casebridge.language';

export function preferredLanguage(available) {
  const stored = localStorage.getItem(STORED);
  if (stored && available.includes(stored)) return stored;
  for (const wanted of navigator.languages || []) {
    const code = wanted.toLowerCase().split('-')[0];
    if (available.includes(code)) return code;
  }
  return 'en';
}

async function load(code) {
  const res = await fetch(`/app/static/locales/${code}.json`);
  if (!res.ok) throw new Error(`catalogue ${code}: ${res.status}`);
  return res.json();
}

export async function useLanguage(code) {
  if (!Object.keys(fallback).length) fallback = await load('en');
  catalogue = code === 'en' ? fallback : await load(code);
  language = code;
  localStorage.setItem(STORED, code);
  document.documentElement.lang = code;
}

export function t(key, params = {}) {
  const text = catalogue[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? '').toString());
}

// The message for a key built from a value the API or an agency sends, or `otherwise` where no catalogue has one.
export function tOr(key, otherwise, params = {}) {
  const text = t(key, params);
  return text === key ? otherwise : text;
}

// A value of an API enum in words (e.g. t('enum.Category.BENEFITS')), or the value itself.
export function word(kind, value) {
  if (value === null || value === undefined) return '';
  return tOr(`enum.${kind}.${value}`, String(value));
}

// An agency's own code (a program, a status, a kind of appointment or notice) in words where a catalogue knows
// it; otherwise the code made readable ("PROOF_OF_RESIDENCE" -> "Proof of residence"): agencies add codes.
export function code(value) {
  if (!value) return '';
  const plain = String(value).replace(/_/g, ' ').toLowerCase();
  return tOr(`code.${value}`, plain.charAt(0).toUpperCase() + plain.slice(1));
}

export function formatDate(value) {
  if (!value) return '';
  const d = new Date(value.length === 10 ? `${value}T12:00:00` : value);
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium' }).format(d);
}

export function formatDateTime(value) {
  if (!value) return '';
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));
}

// The calendar day `offset` days from today where the browser is, as a date input's value (YYYY-MM-DD): not the
// UTC day toISOString gives, which in New York's evening is already tomorrow.
export function localDay(offset = 0) {
  const d = new Date();
  d.setDate(d.getDate() + offset);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
