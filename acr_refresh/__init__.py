"""acr-refresh: mint short-lived Azure Container Registry credentials on a schedule.

Layers, from pure to I/O:

- ``durations``, ``clouds``, ``config``, ``plan``, ``report``: plain data, no network.
- ``identity`` (Entra ID through azure-identity), ``acr`` (the registry's token protocol through requests),
  ``kube`` (the Kubernetes API through the official client): the only modules that talk to services.
- ``run``: orchestration; ``cli`` and ``function_app.py``: thin triggers.
"""

__version__ = "0.1.0"
