"""Budgets every instance of the app shares: request rates, gates after a 429, in-flight bounds."""
