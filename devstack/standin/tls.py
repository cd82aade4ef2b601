"""Throwaway TLS identities, so clients that insist on HTTPS can talk to a stand-in."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsIdentity:
    """A server certificate for 127.0.0.1 and the CA file clients must trust."""

    context: ssl.SSLContext
    ca_file: Path

    @classmethod
    def self_signed(cls, directory: Path) -> TlsIdentity:
        """Issue a throwaway CA and a certificate for 127.0.0.1/localhost (uses trustme)."""
        import trustme  # noqa: PLC0415 - dev-only dependency, needed only when TLS is asked for

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / "standin-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(context, ca_file)
