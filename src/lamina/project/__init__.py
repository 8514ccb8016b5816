"""What a project declares: the project file and SAM templates, read once for serve and deploy."""
