"""Email over SMTP with the standard library, on a thread (smtplib blocks).

Plain text and HTML alternatives from the templates. The subject is forced onto one line: a
newline in a PR title must not become a header of the author's choosing.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from devmetrics_app.config import Settings
from devmetrics_app.notify.channels import PermanentFailure, TransientFailure
from devmetrics_app.notify.messages import Message, render_email

TIMEOUT_SECONDS = 20


def build(settings: Settings, recipients: list[str], message: Message) -> EmailMessage:
    subject, text, html = render_email(message)
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


async def send(settings: Settings, recipients: list[str], message: Message) -> None:
    if not settings.smtp_host:
        raise PermanentFailure("email: SMTP_HOST is not set")
    mail = build(settings, recipients, message)
    await asyncio.to_thread(_send_blocking, settings, mail)


def _send_blocking(settings: Settings, mail: EmailMessage) -> None:
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get())
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentFailure(f"email: authentication failed ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentFailure(f"email: every recipient refused: {', '.join(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        reason = f"email: {exc.smtp_code} {exc.smtp_error!r}"
        raise (PermanentFailure(reason) if 500 <= exc.smtp_code < 600 else TransientFailure(reason)) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentFailure(f"email: {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientFailure(f"email: {type(exc).__name__}: {exc}") from None
