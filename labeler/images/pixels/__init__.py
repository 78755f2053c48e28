"""The pixels: decoding and formats, checks of uploaded bytes, copies without private
metadata, conversions, model inputs, perceptual hashes, and faces found and blurred.

Free of Django and of every other labeler module (an import-linter contract says so):
the worker's torch code (``worker/ml``) imports this room and no other part of labeler
but the pure training configuration and metrics of ``labeler.predictions``.
"""
