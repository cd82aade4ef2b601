"""Credly to Microsoft 365 profile connector: the core, free of any Azure Functions binding."""

from __future__ import annotations

__version__ = "0.1.0"
PRODUCT_NAME = "credly-m365-connector"


def about() -> dict[str, str]:
    """The product's name and version, as the ops routes and the CLI report them."""
    return {"name": PRODUCT_NAME, "version": __version__}
