"""A webhook call to an address checked beforehand still names its host: the partner's certificate is checked
against that name (TLS server name) and the request carries it (Host). A real TLS server on this machine with a
certificate for one name, reached under that name and then under another (each resolved, as a resolver would, to
this machine): the second call fails though the first connection was just made, since no connection is kept
between calls (a kept one is matched by address only, past the name check)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from connectors.webhooks import WebhookSettings, enqueue
from notify.webhooks import WebhookSender
from store.engine import make_engine, make_sessionmaker
from store.held_tables import WebhookDelivery, WebhookSubscription


def certificates(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway certificate authority and a certificate it signed for `name`: (CA file, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "casebridge test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


async def test_a_call_reaches_the_checked_address_under_its_name_and_a_certificate_for_another_name_fails(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca_file, cert, key = certificates(tmp_path, "partner.test")
    seen: list[tuple[str | None, str]] = []  # (the TLS server name, the Host header) of each call received
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,return-value]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:  # each call on the connection, kept open as a server does (keep-alive) until the client closes it
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                fields = {k.lower(): v for k, v in (line.split(": ", 1) for line in head.split("\r\n")[1:]
                                                     if ": " in line)}
                await reader.readexactly(int(fields.get("content-length", "0")))
                seen.append((names[-1] if names else None, fields.get("host", "")))
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    resolve = loop.getaddrinfo

    async def to_this_machine(host: Any, *args: Any, **kw: Any) -> Any:  # as a resolver answering these names
        return await resolve("127.0.0.1" if host in ("partner.test", "other.test") else host, *args, **kw)

    monkeypatch.setattr(loop, "getaddrinfo", to_this_machine)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = dt.datetime.now(dt.UTC)
    try:
        async with sessions.begin() as session:
            for org, name in (("DHS", "partner.test"), ("HRA", "other.test")):
                session.add(WebhookSubscription(id=str(uuid.uuid4()), org=org, url=f"https://{name}:{port}/hooks",
                                                secret="whsec_test", events=["referral.changed"], active=True,
                                                created_by="t", created_at=now))
        # development: this machine's addresses may be called (production would refuse them: blocked-address)
        sender = WebhookSender(sessions=sessions, settings=WebhookSettings(ca_file=ca_file), production=False)
        try:
            for org in ("DHS", "HRA"):  # one after the other, by the same sender: the second right after the first
                async with sessions.begin() as session:
                    await enqueue(session, orgs=[org], event="referral.changed", payload={"referralId": "r-1"},
                                  now=now)
                await sender.deliver_due()
        finally:
            await sender.aclose()
        assert seen == [("partner.test", f"partner.test:{port}")]  # the checked address, under its own name
        async with sessions() as session:
            result = {sub.url.split("//")[1].split(":")[0]: (d.status, d.last_result) for d, sub in (
                await session.execute(select(WebhookDelivery, WebhookSubscription).join(
                    WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id))).all()}
        assert result["partner.test"] == ("delivered", "http-204")
        assert result["other.test"] == ("pending", "connecterror")  # its certificate names partner.test only
    finally:
        server.close()
        await server.wait_closed()
        await engine.dispose()
