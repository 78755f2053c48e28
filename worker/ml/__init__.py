"""The worker's machine learning: the only code that imports torch.

Import the submodules (``worker.ml.training``, ``worker.ml.inference``...) where they are
needed; this package itself imports nothing heavy, so importing it costs nothing.

It does set one default before torch loads: OpenMP threads sleep instead of spinning
while they wait (``OMP_WAIT_POLICY=PASSIVE``; libgomp reads it once, when torch is
imported). On a machine whose cores are shared (a web process, the other worker,
decoding threads of our own), spinning threads hold the cores their peers need: with
two threads on two busy cores a small CNN's training step took 0.9 to 1.4 s spinning
against 0.11 s sleeping. Set ``OMP_WAIT_POLICY=ACTIVE`` for a machine given to torch alone.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
