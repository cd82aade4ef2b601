"""The Credly API stand-in: organisation badge API v1, OAuth, webhooks."""
