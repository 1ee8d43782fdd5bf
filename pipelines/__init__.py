"""Pipeline definitions: the factory, the runner, and each pipeline's config."""
