"""The development OpenID provider (demo/idp/server.mjs, panva's oidc-provider on Node.js), started and stopped.

The demo and the browser tests sign in the way production does: the console runs the authorization code flow
with PKCE against this provider, which issues RS256 JWT access tokens for the gateway's audience carrying the
claims the gateway maps (`org`, `roles`, `casebridge_client_id`). It signs with the gateway's development key,
so tokens printed by `casebridge demo` and those the console obtains are checked against one JWKS (the
provider's). Listens on 127.0.0.1 only; the process stops with `stop()` or when its parent goes away.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.keys import load_or_create_dev_key
from api.settings import AuthSettings
from core.errors import ConfigurationError

IDP_DIR = Path(__file__).resolve().parent / "idp"
CONSOLE_CLIENT_ID = "casebridge-console"
DEMO_PASSWORD = "demo-city-2026"  # one password for every demo user; the provider is for development only


@dataclass(frozen=True)
class DemoUser:
    """One person who can sign in to the demo: the claims the gateway maps, and who they are in words."""

    username: str
    label: str
    subject: str
    organization: str
    roles: tuple[str, ...]
    client_id: str | None = None  # for the client role: which casebridge client they are

    def as_config(self) -> dict[str, Any]:
        return {"username": self.username, "label": self.label, "subject": self.subject, "name": self.label,
                "organization": self.organization, "roles": list(self.roles), "client_id": self.client_id}


@dataclass
class DevIdentityProvider:
    """Runs demo/idp/server.mjs for `users`; `issuer` is its URL, `jwks_url` the gateway's key source."""

    users: list[DemoUser]
    auth: AuthSettings
    console_origin: str
    port: int = 8103
    access_token_seconds: int = 900
    refresh_token_seconds: int = 8 * 3600
    client_id: str = CONSOLE_CLIENT_ID  # the console's (settings.console.client_id)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)
    _log: Path = field(default=Path(os.devnull), init=False, repr=False)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def start(self, *, timeout: float = 30.0) -> DevIdentityProvider:
        node = shutil.which("node")
        if node is None:
            raise ConfigurationError("the demo's sign-in needs Node.js: apt-get install nodejs npm")
        install_node_modules()
        self._workdir = tempfile.TemporaryDirectory(prefix="casebridge-idp-")
        config = Path(self._workdir.name) / "config.json"
        key = load_or_create_dev_key(self.auth.dev_key_file)
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the signing key
        with os.fdopen(fd, "w") as fh:
            json.dump(self._config(key.as_dict(private=True)), fh)
        # Its warnings go to a file (a pipe nobody reads would fill and stop it during a long demo).
        self._log = Path(self._workdir.name) / "idp.log"
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                [node, str(IDP_DIR / "server.mjs"), str(config)], cwd=IDP_DIR,
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        self._wait_ready(timeout)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> DevIdentityProvider:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _config(self, signing_key: dict[str, Any]) -> dict[str, Any]:
        console = f"{self.console_origin}/app/"
        return {
            "issuer": self.issuer, "port": self.port, "audience": self.auth.audience, "password": DEMO_PASSWORD,
            "signing_key": signing_key, "users": [u.as_config() for u in self.users],
            "access_token_seconds": self.access_token_seconds, "refresh_token_seconds": self.refresh_token_seconds,
            "claims": {"organization": self.auth.organization_claim, "roles": self.auth.roles_claim,
                       "self_client": self.auth.self_client_claim},
            "client": {"id": self.client_id, "redirect_uris": [console], "post_logout_redirect_uris": [console],
                       "origins": [self.console_origin]},
        }

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._log.read_text(errors="replace")[-2000:]
                self.stop()
                raise ConfigurationError(f"the development OpenID provider did not start: {err.strip()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise ConfigurationError(f"the development OpenID provider did not answer on {self.issuer}")


def install_node_modules() -> None:
    """`npm ci` in demo/idp once (the lock file pins oidc-provider and what it needs)."""
    if (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError("the demo's sign-in needs npm: apt-get install nodejs npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=IDP_DIR, check=True,
                   stdout=subprocess.DEVNULL)
