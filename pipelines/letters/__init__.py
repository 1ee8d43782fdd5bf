"""The letters pipeline's config."""
