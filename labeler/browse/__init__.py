"""Finding a project's images: the data browser's filters, sorts and keyset pages.

A package without models, at the datasets layer: it reads images, annotations, final
labels, review requests and predictions through their models, and both faces (the Images
page and ``GET /api/v1/projects/{id}/images/``) call it with the same query parameters.
"""
