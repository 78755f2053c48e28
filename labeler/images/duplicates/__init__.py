"""Near-duplicates: found from perceptual hashes (pure), kept as groups on image rows,
and images hashed by an older version of the hashing hashed again."""
