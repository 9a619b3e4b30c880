"""Settings of the messages to clients: when reminders go, how often at most, and the providers that carry them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

DEMO_SMS_TOKEN = "demo-sms-auth-token"  # the demo's provider simulator; refused in production
DEMO_SMTP_PASSWORD = "demo-smtp-password"  # likewise


class SmtpSettings(BaseModel):
    """Email over SMTP: the city's relay (or a provider's SMTP endpoint)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    # "starttls": upgrade a plain connection (port 587); "tls": TLS from the start (465); "none": the demo only
    security: str = Field(default="none", pattern="^(starttls|tls|none)$")
    from_address: str = "reminders@casebridge.invalid"
    timeout_seconds: float = Field(default=15.0, gt=0, le=120)


class SmsSettings(BaseModel):
    """Text messages through an HTTP provider shaped like the common ones: a form POST to send, signed status
    callbacks, a signed inbound webhook (notify/providers.py, api/hooks.py)."""

    base_url: str = "http://127.0.0.1:8104"
    account: str = "demo-account"
    auth_token: SecretStr = SecretStr(DEMO_SMS_TOKEN)  # signs the provider's callbacks too
    from_number: str = "+12125550199"
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class NotifySettings(BaseModel):
    """When reminders go, and how often at most."""

    enabled: bool = True
    # the city's time zone: quiet hours and the dates and times in messages are read in it
    timezone: str = "America/New_York"
    # reminders of an appointment, this many hours before it
    appointment_lead_hours: list[int] = [72, 24]
    # reminders of a notice's response date, this many days before it (at 10:00)
    notice_lead_days: list[int] = [7, 2]
    # at most this many messages to one client in any 24 hours (more wait for the window to open)
    daily_cap: int = Field(default=3, ge=1, le=50)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # a worker holds a message this long while sending it; one that died leaves it to another after this
    lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    poll_seconds: float = Field(default=5.0, gt=0, le=600)
    # how often the planner reads opted-in clients' appointments and notices again: each read of each client is
    # an event on the access log, so hourly (an appointment an agency books is reminded of within the hour)
    plan_every_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    # run the planner and a delivery worker inside the gateway (the demo); else `casebridge notify run`
    run_in_gateway: bool = False
    # the page a message's link opens (the client's own view in the console); never carries a record's id
    link: str = "http://127.0.0.1:8000/app/"
    # more languages (or other words): JSON files named <language>.json, as notify/templates/en.json
    templates_dir: Path | None = None
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()

    def production_problems(self) -> list[str]:
        """What production refuses: the demo's credentials, and providers reached in the clear."""
        out = []
        if self.sms.auth_token.get_secret_value() == DEMO_SMS_TOKEN:
            out.append("the SMS provider uses the demo's auth token")
        if self.smtp.password is not None and self.smtp.password.get_secret_value() == DEMO_SMTP_PASSWORD:
            out.append("the SMTP server uses the demo's password")
        if self.smtp.security == "none" and self.smtp.host not in ("127.0.0.1", "localhost"):
            out.append("email would go to another machine without TLS")
        if not self.sms.base_url.startswith("https://"):
            out.append("the SMS provider is not an https address (the account's token would cross in the clear)")
        return out
