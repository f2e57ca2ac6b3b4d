"""Test certificate authority and per-host TLS server contexts.

One ``trustme`` CA signs every server certificate the emulator presents. The internal HTTPS server picks
its certificate from the client's SNI name on each handshake (``sni_callback``), issuing and caching a
leaf certificate for any name on first use, so a client connecting through the proxy to
``login.microsoftonline.us`` or ``myreg.azurecr.cn`` sees a certificate for exactly that name, valid
only under the test CA.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import threading

import trustme


class CertificateAuthority:
    """The emulator's CA and a cache of server contexts, one per host name.

    ``bundle_path`` is the CA certificate (PEM) written into ``directory``; point ``REQUESTS_CA_BUNDLE``
    and ``SSL_CERT_FILE`` at it.
    """

    def __init__(self, directory: str) -> None:
        self._ca = trustme.CA(organization_name="acr-refresh emulator")
        self.bundle_path = os.path.join(directory, "emulator-ca.pem")
        self._ca.cert_pem.write_to_path(self.bundle_path)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        # A second CA that no client trusts: hosts listed in ``untrusted`` present certificates from it, to
        # show that clients fail rather than fall back to no verification.
        self._rogue = trustme.CA(organization_name="untrusted rogue CA")
        self.untrusted: set[str] = set()

    @property
    def pem(self) -> bytes:
        """The CA certificate in PEM form (for kubeconfig ``certificate-authority-data``)."""
        return self._ca.cert_pem.bytes()

    def context_for(self, *names: str) -> ssl.SSLContext:
        """A server-side context presenting a certificate valid for ``names`` (host names or IPs), signed
        by the test CA, or by the untrusted CA when the first name is in ``untrusted``."""
        rogue = bool(names) and names[0].lower() in self.untrusted
        key = ("rogue:" if rogue else "") + ",".join(n.lower() for n in names)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                (self._rogue if rogue else self._ca).issue_cert(*names).configure_cert(ctx)
                self._contexts[key] = ctx
            return ctx

    def sni_server_context(self, default_name: str = "localhost") -> ssl.SSLContext:
        """A server context that swaps in a certificate for whatever name the client asks for via SNI.

        Clients that send no SNI (connecting to an IP address) get a certificate for ``default_name``.
        """
        base = self.context_for(default_name)
        sni_base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sni_base.minimum_version = ssl.TLSVersion.TLSv1_2
        self._ca.issue_cert(default_name).configure_cert(sni_base)

        def _pick(
            sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext
        ) -> None:
            # Returning None continues the handshake; assigning .context changes the certificate.
            if server_name and _valid_name(server_name):
                sslobj.context = self.context_for(server_name)
            else:
                sslobj.context = base

        sni_base.sni_callback = _pick
        return sni_base


def _valid_name(name: str) -> bool:
    """A DNS name or IP address that a certificate SAN can carry (guards against junk SNI)."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    labels = name.rstrip(".").split(".")
    return (
        bool(name)
        and len(name) <= 253
        and all(0 < len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label) for label in labels)
    )
