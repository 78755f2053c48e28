"""The server-rendered web pages, their forms and their URLs.

This package owns every page a person opens in a browser (home, login, project settings
and members, upload, labelling, review, agreement, export, models), the Django forms
those pages post, the signed ``/files/`` route their images load from, the 404 and 500
handlers, and the page routes in ``labeler.web.urls``. Its views parse requests and
render templates (``templates/``, ``static/``); every read and write goes through the
domain packages' selectors and services. It is a plain package, not a Django app: it
has no models. The REST API (``api/``) never imports it.
"""
