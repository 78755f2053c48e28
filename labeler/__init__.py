"""labeler: image classification annotation platform."""

import os

# numpy asks the kernel for huge pages for every array of 4 MB or more. Where the kernel
# then compacts memory on a fault to make them (transparent_hugepage/defrag set to
# "madvise", its usual default) and arrays of hundreds of megabytes come and go, that
# costs more than it saves: the agreement report of 10 million ratings took 8.7 s with
# the hint and 7.1 s without (docs/benchmarks.md). Read once, when numpy is first
# imported, so it is set here, before any of this package's code imports numpy; an
# explicit NUMPY_MADVISE_HUGEPAGE=1 in the environment keeps the hint.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
