"""Reading labels that come with images from elsewhere: folders, CSV files, Label Studio.

Pure Python, free of Django: the management command and the command-line client share it.
"""
