"""The table pipeline: any CSV table, a column of it predicted from the others."""
