"""Local emulator of Entra ID, managed identity endpoints, ACR token services and a Kubernetes API server,
for running the REAL clients (azure-identity/MSAL, requests, kubernetes) in tests and demos.

How the code under test reaches it (no endpoint overrides in that code):

- HTTPS to any Azure host goes through ``HTTPS_PROXY`` = :attr:`Emulator.proxy_url`, a CONNECT proxy that
  tunnels every host to one internal TLS server on 127.0.0.1. That server presents a certificate for the
  SNI name (issued on demand by a ``trustme`` CA) and dispatches on the Host header: Entra ID authority
  hosts, registered registries; anything else gets 502. ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` point at
  the CA (:meth:`Emulator.env`).
- Managed identity: plain HTTP on 127.0.0.1, IMDS at :attr:`Emulator.imds_url` (set
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST``) and App Service at :attr:`Emulator.identity_endpoint` /
  :attr:`Emulator.identity_header` (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``).
- Kubernetes: TLS on 127.0.0.1 (:attr:`Emulator.kube_url`), kubeconfig from :meth:`Emulator.write_kubeconfig`.

What the real clients send (azure-identity 1.27, msal 1.39, observed on the wire through this emulator):

- ClientSecretCredential: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` once per credential, then
  ``POST /{tenant}/oauth2/v2.0/token`` (``client_id``, ``grant_type=client_credentials``, ``client_info=1``,
  ``client_secret``, ``scope``). No instance discovery for hosts in MSAL's well-known list (public, US Gov,
  China, ...). For other hosts (Azure Stack), MSAL first asks
  ``GET https://login.microsoftonline.com/common/discovery/instance?authorization_endpoint=...&api-version=1.0``,
  which Entra (and this emulator) answers ``invalid_instance``: such authorities need
  ``disable_instance_discovery=True``. After a failed token request MSAL also fetches
  ``GET https://<authority host>/common/discovery/instance?api-version=1.1&authorization_endpoint=
  https://<host>/common/oauth2/authorize`` (alias lookup). AD FS (tenant ``adfs``):
  ``GET /adfs/.well-known/openid-configuration`` then ``POST /adfs/oauth2/token/``.
- ClientAssertionCredential / WorkloadIdentityCredential: no discovery at all, just
  ``POST /{tenant}/oauth2/v2.0/token`` with ``client_assertion`` and ``client_assertion_type``.
- ManagedIdentityCredential (MSAL underneath): IMDS ``GET /metadata/identity/oauth2/token?api-version=
  2018-02-01&resource=<scope without /.default>[&client_id=|&msi_res_id=|&object_id=]``
  with ``Metadata: true``;
  App Service ``GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=...[&client_id=|&mi_res_id=|
  &object_id=]`` with ``X-IDENTITY-HEADER`` (and ``Metadata: true``). With
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` set, azure-identity skips its IMDS availability probe (the same GET
  without ``Metadata: true``, 1 s timeout, no retry; IMDS and the emulator answer it 400, meaning "present").

Retry behaviour of the real clients, which fault-injection tests must plan for:

- azure-core (under every credential) retries a GET on 408/429/500/502/503/504, a POST (the token request)
  only on 500/503/504, and any error that carries Retry-After; 3 retries, waiting 0 s, then
  factor x 2^(n-1) (factor 0.8: 1.6 s, 3.2 s) or the Retry-After value when it is > 0. ``count=1`` faults
  cost no wait; pass ``retry_backoff_factor=0.01`` to a credential to keep longer fault runs fast.
- IMDS retries 404/410/429/5xx five times (0.8 s factor; 2.5 s factor for 410, fixed in azure-identity).
  ``ManagedIdentityCredential(retry_backoff_factor=0.01)`` shortens all but the 410 case; keep 410 faults
  at ``count=1``.
- After a token request finally fails with 429/5xx, MSAL replays that error locally (no request) for
  Retry-After seconds, 5 s by default, for the same client and scope.

What the emulator does NOT model:

- Signatures: every token is HS256 with per-issuer emulator keys, not RS256; no JWKS/OIDC key documents are
  served (``jwks_uri`` is advertised but 404s), and federated assertions are checked only for issuers the
  emulator signs for (its Kubernetes issuer); any other issuer fails with AADSTS50166.
- Entra ID: only the client-credentials grant; no certificate credentials (``private_key_jwt`` with the
  app's own certificate), no user flows, refresh tokens, CAE/claims challenges, token caching headers,
  regional endpoints, tenant names other than the registered ids (no ``contoso.onmicrosoft.com``), or
  ``common``/``organizations``; resources are not checked to exist (any ``<resource>/.default`` gets a
  token with ``aud`` = that resource string); app roles (``roles`` claim) are absent; error timestamps
  use wall time. v1-shaped access tokens are issued for every resource.
- Managed identity: token lifetime is ``entra_token_lifetime`` (Azure: ~24 h); App Service's
  ``expires_on`` comes from the emulator clock while MSAL subtracts wall time, so a simulated clock far
  from wall time skews ``expires_in``. No Azure Arc, Service Fabric, Cloud Shell or Azure ML endpoints;
  App Service error texts are approximations.
- ACR: only ``POST /oauth2/exchange`` (``grant_type=access_token``) and ``POST /oauth2/token``
  (``grant_type=refresh_token``); no ``password`` grant, no GET/Basic-auth token flow, no ``/v2/``
  registry API or WWW-Authenticate challenges, no repository-scoped tokens/scope maps or ABAC; scopes
  are granted as asked. Per-principal denial happens at the exchange (and again at /oauth2/token), with
  401; which of the two endpoints Azure refuses on, and its exact messages, are approximations. The
  registry audience is accepted in every cloud.
- Kubernetes: only GET Secret, GET ServiceAccount and TokenRequest; no lists, watches, writes over HTTP,
  RBAC, admission, API discovery (``/api``, ``/version``) or bound-object checks. TokenRequest tokens are
  not usable as bearer tokens against the emulated API server.
- Transport: no DNS (the proxy accepts any name), no HTTP/2, no proxy authentication; unregistered
  ``*.azurecr.*`` hosts answer 404 instead of failing name resolution. Key Vault is not emulated yet.

Every request counts under an endpoint name (see :data:`ENDPOINTS`); requests to unmodelled paths count
as ``entra.unknown``, ``acr.unknown``, ``mi.unknown``, ``kube.unknown`` or ``unknown`` (unserved host).
"""

from .core import ENDPOINTS, Emulator
from .web import RecordedRequest

__all__ = ["ENDPOINTS", "Emulator", "RecordedRequest"]
