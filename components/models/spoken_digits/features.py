"""Feature names of spoken digit examples, raw (as AudioExampleGen writes them) and transformed. No TensorFlow."""

# Raw tf.Example features.
AUDIO_KEY = "audio"  # the WAV file's bytes, as read
LABEL_KEY = "label"  # the class index into the config's class_names
# From the file name `<digit>_<speaker>_<take>.wav` (empty strings where the name has no such parts).
SPEAKER_KEY = "speaker"
TAKE_KEY = "take"  # the recording's index among the speaker's recordings of that digit (FSDD's 0-49)
NAME_FIELDS = (SPEAKER_KEY, TAKE_KEY)
# The recording as stored, for statistics and data checks; Transform pads or trims it.
SAMPLE_RATE_KEY = "sample_rate"
SAMPLES_KEY = "samples"

# Transformed: the normalised log-mel spectrogram, float32 [frames, mel bins, 1].
SPECTROGRAM_KEY = "spectrogram"
