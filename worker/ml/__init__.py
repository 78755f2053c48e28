"""The worker's machine learning: the only code that imports torch.

Import the submodules (``worker.ml.training``, ``worker.ml.inference``...) where they are
needed; this package itself imports nothing heavy, so importing it costs nothing.
"""
