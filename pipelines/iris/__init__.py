"""The iris pipeline's config."""
