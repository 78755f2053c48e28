"""Images that come with their labels from elsewhere: folders, CSV files, Label Studio.

An import goes in three stages, each a sub-package: ``reading`` turns a file into records,
pure Python and free of the database, so the management command and the command-line
client share it; ``planning`` matches the records against a project into an import plan,
the value a dry run shows; ``applying`` writes a plan through the services of each row's
owner. ``labeler.flows.images_import`` applies a plan and does what follows.
"""
