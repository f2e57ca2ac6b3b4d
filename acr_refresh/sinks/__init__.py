"""Delivery sinks: where minted credentials are written (Kubernetes Secrets, Key Vault secrets).

Each sink reads what a target holds now (for the freshness rule) and writes a new value in one request,
so a target is always either old or new. Sinks never see a generator; they get rendered values.
"""
