"""Single sign-on with OpenID Connect: who a provider's accounts are here, and the roles
its groups give (mozilla-django-oidc carries the protocol)."""
