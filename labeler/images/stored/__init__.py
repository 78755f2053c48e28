"""Where a stored image's bytes lie and how they are opened: uploads in the default
storage, bucket objects and folder files read in place."""
