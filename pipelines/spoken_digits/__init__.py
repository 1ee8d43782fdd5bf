"""The spoken_digits pipeline: WAV recordings of spoken digits -> 0-9."""
