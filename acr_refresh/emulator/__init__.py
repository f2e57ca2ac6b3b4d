"""Local emulator of Entra ID, managed identity endpoints, ACR token services, Key Vault secrets and a
Kubernetes API server, for running the REAL clients (azure-identity/MSAL, azure-keyvault-secrets, requests,
kubernetes) in tests and demos.

How the code under test reaches it (no endpoint overrides in that code):

- HTTPS to any Azure host goes through ``HTTPS_PROXY`` = :attr:`Emulator.proxy_url`, a CONNECT proxy that
  tunnels every host to one internal TLS server on 127.0.0.1. That server presents a certificate for the
  SNI name (issued on demand by a ``trustme`` CA) and dispatches on the Host header: Entra ID authority
  hosts, registered registries, registered vaults; anything else gets 502. ``REQUESTS_CA_BUNDLE``/
  ``SSL_CERT_FILE`` point at the CA (:meth:`Emulator.env`).
- Managed identity: plain HTTP on 127.0.0.1, IMDS at :attr:`Emulator.imds_url` (set
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST``) and App Service at :attr:`Emulator.identity_endpoint` /
  :attr:`Emulator.identity_header` (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``).
- Kubernetes: TLS on 127.0.0.1 (:attr:`Emulator.kube_url`), kubeconfig from :meth:`Emulator.write_kubeconfig`.
  Several emulators can run in one process (e.g. a second cluster): each has its own ports, CA, keys and state.

What the real clients send (azure-identity 1.27, msal 1.39, azure-keyvault-secrets 4.12, kubernetes 37;
observed on the wire through this emulator):

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
- SecretClient (azure-keyvault-secrets 4.12, ``api-version=2026-04-01``): ``set_secret`` is
  ``PUT /secrets/{name}`` with JSON ``value``, ``tags``, ``contentType``, ``attributes {enabled, nbf, exp}``;
  ``get_secret`` is ``GET /secrets/{name}/`` (trailing slash) or ``/secrets/{name}/{version}``;
  ``list_properties_of_secrets`` is ``GET /secrets`` (no ``maxresults`` unless ``max_page_size`` is given), then
  each ``nextLink`` as given, with the client's own ``api-version``. The first request
  of a client for a host goes out without ``Authorization`` (a PUT also without its body, ``Content-Length: 0``);
  the 401 challenge gives the tenant and ``resource``, the client checks that the vault host ends with
  ``.`` + the resource's host (``verify_challenge_resource``), asks its credential for ``<resource>/.default``
  in that tenant (the token request carries ``claims={"access_token":{"xms_cc":{"values":["CP1"]}}}``: CAE is
  on) and resends. The challenge cache is process-wide, per host: later clients for the same vault skip the
  unauthenticated request, even across emulators. A vault in another tenant than the credential's fails in
  azure-identity (``additionally_allowed_tenants``) before any token request.
- kubernetes 37 (User-Agent ``OpenAPI-Generator/37.0.2/python``): POST and PUT carry no ``Content-Type`` (the API
  server, and the emulator, read JSON); a ``patch_*`` with a dict body is sent as
  ``application/strategic-merge-patch+json`` unless ``_content_type`` says otherwise; server-side apply is
  ``PATCH`` with ``application/apply-patch+yaml``, a JSON body and ``?fieldManager=...&force=true``.
  ``delete_namespaced_secret`` returns a plain dict (the Status), ``delete_namespaced_service_account`` a
  ``V1ServiceAccount`` (that registry returns the deleted object). Without ``field_manager``, a write's manager
  is the User-Agent prefix ``OpenAPI-Generator``.

Retry behaviour of the real clients, which fault-injection tests must plan for:

- azure-core (under every credential and SecretClient) retries a GET or PUT on 408/429/500/502/503/504, a
  POST (the token request) only on 500/503/504, and any error that carries Retry-After; 3 retries, waiting 0 s,
  then
  factor x 2^(n-1) (factor 0.8: 1.6 s, 3.2 s) or the Retry-After value when it is > 0. ``count=1`` faults
  cost no wait; pass ``retry_backoff_factor=0.01`` to a credential to keep longer fault runs fast.
- IMDS retries 404/410/429/5xx five times (0.8 s factor; 2.5 s factor for 410, fixed in azure-identity).
  ``ManagedIdentityCredential(retry_backoff_factor=0.01)`` shortens all but the 410 case; keep 410 faults
  at ``count=1``.
- After a token request finally fails with 429/5xx, MSAL replays that error locally (no request) for
  Retry-After seconds, 5 s by default, for the same client and scope.
- The kubernetes client does not retry on HTTP status (only connection errors, through urllib3); client-go
  style Retry-After retries of GETs exist in v37 but are off unless ``configuration.client_go_retries`` is set.

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
- Key Vault: secrets only, and of them only set (PUT), get (GET) and list of the latest versions' properties
  (``GET /secrets``, paged by ``maxresults`` up to 25 with a ``$skiptoken`` ``nextLink``); no list of versions
  or of deleted secrets, delete, recover, purge, backup, update-properties, keys or certificates (other paths:
  404/405 after authentication); no ``managed`` flag on items (no certificate-backed secrets). Soft delete is only the
  state :meth:`Emulator.soft_delete_vault_secret` sets. RBAC is a per-vault principal allow/deny list, not role
  assignments on scopes; no access-policy vaults, network rules, firewall (403 ``ForbiddenByPolicy``/
  ``Forbidden`` by IP), PoP tokens, CAE claims challenges, throttling beyond injected faults, or limits (25 KB
  values, 15 tags, name length beyond the regex); the api-version is required but any value is accepted.
  Names are case-insensitive and keep the casing of their first write. Texts of token errors other than
  AKV10000/AKV10022/AKV10032 are approximations. Unregistered ``*.vault.*`` hosts get the proxy's 502 (real:
  no DNS record). The challenge names the tenant's authority host (``login.microsoftonline.com`` for the
  public cloud; recordings of Key Vault also show its alias ``login.windows.net``: clients read only the tenant).
- Kubernetes: core/v1 Namespaces (get, list), Secrets and ServiceAccounts (get, list, create, update, apply,
  patch, delete) and TokenRequest only; no watches, other resources or API groups, API discovery (``/api``,
  ``/version``), protobuf/YAML bodies (apply bodies must be JSON), finalizers or graceful deletion, field
  selectors beyond name/namespace/type, ``resourceVersion`` semantics on reads, or bound-object checks. Server-
  side apply is simplified: no field sets in ``managedFields`` (entries carry manager, operation, apiVersion and
  time only), so no apply conflicts (``force`` is accepted and changes nothing), and fields an applier stops
  sending are kept instead of removed (``data`` keys included); strategic merge patch is a plain JSON merge
  patch (lists replaced, ``$patch`` directives dropped). RBAC is "everything allowed" minus
  :meth:`Emulator.forbid_namespace`; no admission plugins beyond namespace existence, no ServiceAccount token
  Secrets, no ``default`` (or any) namespace unless added; the seed helpers (``add_secret``, ...) skip
  validation and create their namespace. TokenRequest tokens are not usable as bearer tokens against the
  emulated API server.
- Transport: no DNS (the proxy accepts any name), no HTTP/2, no proxy authentication; unregistered
  ``*.azurecr.*`` hosts answer 404 instead of failing name resolution.

Every request counts under an endpoint name (see :data:`ENDPOINTS`); requests to unmodelled paths count
as ``entra.unknown``, ``acr.unknown``, ``kv.unknown``, ``mi.unknown``, ``kube.unknown`` or ``unknown``
(unserved host). :meth:`Emulator.issued_secrets` also holds every Key Vault secret value (seeded or written by
a client); Kubernetes Secret data is not added (it holds non-secret values too).
"""

from .core import ENDPOINTS, Emulator
from .upstream import KubeUpstream
from .web import RecordedRequest

__all__ = ["ENDPOINTS", "Emulator", "KubeUpstream", "RecordedRequest"]
