"""``python -m labeler.client``: the `labeler` command."""

import sys

from labeler.client.cli import main

sys.exit(main())
