"""What is said of images: their EXIF, a project's metadata fields, and descriptions
(capture time, position, origin, camera, licence, tags, fields' values) read, checked and
written."""
