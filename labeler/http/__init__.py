"""What every request passes through before a face (the pages, the API) sees it.

The session store, the authentication backend, the login throttle and the site's
middleware: named by the settings and used by the faces' login views, never by the
domain (an import contract keeps it so).
"""
