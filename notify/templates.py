"""The words of messages to clients, per language: what a reminder may say and nothing more.

A template names only {date}, {time} and {link}: a message carries no program name, case number, agency, place or
diagnosis (a text message is read on a lock screen, a shared phone, a work inbox). The link opens the client's
own view, where they sign in to see the rest. English and Spanish ship here (notify/templates/*.json); a city adds
a language, or its own words, with a file of the same shape in `notify.templates_dir`.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import ConfigurationError

HERE = Path(__file__).resolve().parent / "templates"
PLACEHOLDERS = frozenset({"date", "time", "link"})
KINDS = ("appointment_reminder", "notice_due", "document_requested", "document_rejected", "referral_update",
         "task_due", "goal_due")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message's words in one language for one channel."""

    language: str
    subject: str | None  # email only
    body: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's words."""

    language: str
    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    date: str
    sms_footer: str
    email_footer: str
    messages: dict[str, dict[str, str]]

    def format_date(self, when: datetime) -> str:
        return self.date.format(weekday=self.weekdays[when.weekday()], day=when.day, month=self.months[when.month - 1])


class Templates:
    """Every language's words, checked when loaded: a template that names anything but {date}, {time} and {link},
    or a language that lacks a message English has, refuses to start."""

    def __init__(self, extra_dir: Path | None = None) -> None:
        files = {p.stem: p for p in sorted(HERE.glob("*.json"))}
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise ConfigurationError(f"notify.templates_dir is not a directory: {extra_dir}")
            files.update({p.stem: p for p in sorted(extra_dir.glob("*.json"))})
        self._by_language = {lang: _load(lang, path) for lang, path in files.items()}
        if "en" not in self._by_language:
            raise ConfigurationError("the message templates have no English (en.json)")

    @property
    def languages(self) -> list[str]:
        return sorted(self._by_language)

    def render(self, kind: str, channel: str, language: str, *, at: datetime, zone: ZoneInfo, link: str) -> Rendered:
        """The message `kind` for `channel` in `language` (or the language it falls back to: es-MX -> es -> en),
        about a moment `at`, read in the city's time zone `zone`."""
        lang = self.pick(language)
        cat = self._by_language[lang]
        local = at.astimezone(zone)
        values = {"date": cat.format_date(local), "time": local.strftime("%H:%M"), "link": link}
        words = cat.messages[kind]
        if channel == "sms":
            return Rendered(lang, None, f"{words['sms'].format(**values)} {cat.sms_footer}")
        return Rendered(lang, words["subject"].format(**values),
                        f"{words['email'].format(**values)}\n\n--\n{cat.email_footer}\n")

    def pick(self, language: str) -> str:
        """The language a message goes out in: the client's, else its base language, else English."""
        for lang in (language, language.split("-")[0]):
            if lang in self._by_language:
                return lang
        return "en"


def _load(language: str, path: Path) -> Catalogue:
    where = f"message templates {path.name}"
    if not _LANGUAGE.match(language):
        raise ConfigurationError(f"{where}: the file is named for its language (en.json, es.json, zh-Hant.json)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        weekdays, months = tuple(raw["weekdays"]), tuple(raw["months"])
        messages = {kind: {part: str(raw["messages"][kind][part]) for part in ("sms", "subject", "email")}
                    for kind in KINDS}
        cat = Catalogue(language, weekdays, months, str(raw["date"]), str(raw["sms_footer"]),
                        str(raw["email_footer"]), messages)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{where}: {type(exc).__name__}: every message of {', '.join(KINDS)} needs its "
                                 "sms, subject and email words") from exc
    if len(weekdays) != 7 or len(months) != 12:
        raise ConfigurationError(f"{where}: 7 weekdays and 12 months")
    for kind, parts in messages.items():
        for part, text in parts.items():
            named = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            if not named <= PLACEHOLDERS:
                raise ConfigurationError(f"{where}: {kind}.{part} names {sorted(named - PLACEHOLDERS)}; a message "
                                         "may show only {date}, {time} and {link}")
    return cat
