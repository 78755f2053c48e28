"""The pixels, free of Django and of the rest of labeler (so worker/ml may import them):
decoding and formats, checks of uploaded bytes and their previews, copies without private
metadata, conversions, model inputs, perceptual hashes, and faces found and blurred."""
