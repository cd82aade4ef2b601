"""Setting names and typo detection; they live in `credly_connector.settings.names`."""

# Kept for credly_connector/ops/health.py, which imports unknown_settings from here.
from credly_connector.settings.names import unknown_settings

__all__ = ["unknown_settings"]
