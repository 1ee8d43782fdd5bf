"""The tfpipe command line."""
