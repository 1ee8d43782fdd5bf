"""The digits pipeline: handwritten digit images -> 0-9."""
