"""Planning: the records read are matched against a project (files to entries, people to
accounts, metadata to its fields) into an import plan, the value a dry run shows."""
