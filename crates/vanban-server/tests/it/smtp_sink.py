"""An SMTP sink for vanban's mail tests (aiosmtpd on 127.0.0.1).

Usage: python smtp_sink.py OUT.jsonl [CERT.pem KEY.pem]

Listens on a free port, prints it on stdout, and appends one JSON line per received message
to OUT.jsonl: the envelope, the raw content, and the message as Python's email package
decodes it (an independent decoder of the RFC 2047 subject and the encoded body).
RCPT to "reject@..." gets 550, to "defer@..." 451. With a certificate and key: STARTTLS is
required and so is AUTH (PLAIN or LOGIN, only after TLS) as vanban / mật-khẩu.
Exits when its standard input closes (the test ended) or after 5 minutes.
"""

import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import logging
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd itself sets the deprecated Session.login_data on AUTH and logs a warning about it.
logging.getLogger("mail.log").setLevel(logging.ERROR)

USER = b"vanban"
PASSWORD = "mật-khẩu".encode()


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "reject":
            return "550 5.1.1 Mailbox unavailable"
        if local == "defer":
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        to = msg["to"]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "raw": raw.decode("utf-8", "replace"),
            "raw_is_ascii": raw.isascii(),
            "subject": str(msg["subject"]),
            "from_name": msg["from"].addresses[0].display_name,
            "from_address": msg["from"].addresses[0].addr_spec,
            "to": [[a.addr_spec, a.display_name] for a in to.addresses] if to else [],
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "tls": session.ssl is not None,
            "auth_mechanism": getattr(session, "vanban_mechanism", None),
            "authenticated": bool(session.authenticated),
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    session.vanban_mechanism = mechanism
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    return AuthResult(success=ok, handled=False)


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


async def main():
    out = sys.argv[1]
    kwargs = {}
    if len(sys.argv) > 3:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        kwargs = dict(
            tls_context=ctx,
            require_starttls=True,
            authenticator=authenticator,
            auth_require_tls=True,
            auth_required=True,
        )
    handler = Sink(out)
    loop = asyncio.get_running_loop()
    # Port 0 and asyncio directly (not aiosmtpd's Controller, which needs a fixed port):
    # the kernel picks a free port, no race between picking and binding.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **kwargs), host="127.0.0.1", port=0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    await asyncio.sleep(300)


asyncio.run(main())
