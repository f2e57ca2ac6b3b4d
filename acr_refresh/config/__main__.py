"""``python -m acr_refresh.config > docs/eso-compatibility.md``: the fate of every ESO field, as Markdown."""

from .fates import markdown

print(markdown(), end="")
