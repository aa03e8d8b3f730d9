"""Importing the certificates that verify a provider's TLS (oVirt's ImportProviderCertificate, for every certificate
sent rather than only the first)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, wire
from extnet.engine.providers.certificates import MAX_CERTIFICATES, Certificate, InvalidCertificate, merged, parse
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Provider


@dataclass(frozen=True)
class SentCertificate:
    """A ``<certificate>`` sent to be imported: its content (PEM), None when not given."""

    content: str | None = None

    @classmethod
    def of(cls, value: Entity) -> SentCertificate:
        content = value.get("content")
        return cls(None if content is None else str(content))


@dataclass(frozen=True)
class ImportCertificatesInput:
    """The ``importcertificates`` action of a provider."""

    certificates: tuple[SentCertificate, ...] | None = wire(convert=SentCertificate.of)


class ImportProviderCertificates(Command[list[Certificate]]):
    """Adds the certificates to those the provider is verified with; returns the ones that were new."""

    verb, noun = "import", "certificates"

    def __init__(self, session: Session, provider: Provider, sent: Sequence[SentCertificate]) -> None:
        super().__init__(session)
        self.provider = provider
        self.sent = sent
        self.parsed: list[Certificate] = []

    def validate(self) -> Iterable[Violation]:
        name = self.provider.name
        if not self.sent:
            yield Violation(f"Importing certificates for provider '{name}' needs at least one certificate with "
                            "its content (PEM); GET the provider's certificates to see the chain it presents",
                            400)  # fmt: skip
            return
        if len(self.sent) > MAX_CERTIFICATES:
            yield Violation(f"At most {MAX_CERTIFICATES} certificates can be imported for provider '{name}' at once, "
                            f"not {len(self.sent)}", 400)  # fmt: skip
            return
        for number, item in enumerate(self.sent, start=1):
            content = str(item.content or "")
            if not content.strip():
                yield Violation(f"Certificate {number} of the import for provider '{name}' has no content", 400)
                continue
            try:
                self.parsed.extend(parse(content))
            except InvalidCertificate as err:
                yield Violation(f"Certificate {number} of the import for provider '{name}' is invalid: {err}", 400)
        trusted, _ = merged(self.provider.certificates or (), self.parsed)
        if len(trusted) > MAX_CERTIFICATES:
            yield Violation(f"Provider '{name}' would trust {len(trusted)} certificates, more than the "
                            f"{MAX_CERTIFICATES} allowed", 409)  # fmt: skip

    def execute(self) -> list[Certificate]:
        provider = self.provider
        provider.certificates, new = merged(provider.certificates or (), self.parsed)
        if new:
            subjects = "; ".join(cert.subject or cert.fingerprint for cert in new)
            text = f"Imported {len(new)} certificate(s) for provider {provider.name}: {subjects}."
        else:
            text = f"The certificates imported for provider {provider.name} were already trusted."
        record(self.session, Code.PROVIDER_CERTIFICATE_IMPORTED, text, provider_id=provider.id)
        return new
