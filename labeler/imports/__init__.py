"""Images that come with their labels from elsewhere: folders, CSV files, Label Studio.

``sources`` reads them, pure Python and free of Django, so the management command and the
command-line client share it; ``services`` stores each image as an upload is stored and
records its labels (``labels``) with their origin.
"""
