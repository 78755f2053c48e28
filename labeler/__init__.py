"""labeler: image classification annotation platform."""
