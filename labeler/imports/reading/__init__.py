"""Reading: a labels file, an archive or a folder becomes records (labels, people,
metadata, by file name), with no database."""
