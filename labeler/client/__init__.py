"""The `labeler` command: a small client of the REST API, for scripts and terminals.

It speaks to a running server over HTTP only (it never imports Django), so it works
against any deployment: log in once, then create projects, upload folders (with their
labels when the folder carries them), start training and download exports.

    labeler --url http://127.0.0.1:8000 login --username lead
    labeler projects create Pets --labels cat,dog
    labeler upload 1 ./pets --labels-from folders
    labeler train 1 --wait
    labeler export 1 --format imagefolder --split 0.8,0.1,0.1 -o pets.zip

The server's address and the token are kept in ``~/.config/labeler/client.json``
(``LABELER_CONFIG`` elsewhere), readable by the user only; ``LABELER_URL`` and
``LABELER_TOKEN`` override them.
"""

from labeler.client.api import Api, ClientError
from labeler.client.cli import build_parser, main
from labeler.client.upload import MultipartBody

__all__ = ["Api", "ClientError", "MultipartBody", "build_parser", "main"]
