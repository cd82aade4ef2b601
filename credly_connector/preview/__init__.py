"""The dry-run preview rendered for people: a static HTML page of profile-card-like panels."""
