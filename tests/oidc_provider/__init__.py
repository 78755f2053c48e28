"""A small OpenID Connect provider (django-oauth-toolkit) that the single sign-on tests
start as a separate server: its own settings, URLs and SQLite database."""
