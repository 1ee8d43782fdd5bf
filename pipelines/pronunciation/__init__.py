"""The pronunciation pipeline's config."""
