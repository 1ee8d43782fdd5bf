"""Feature names of image examples, raw (as ImageExampleGen writes them) and transformed."""

# Raw tf.Example features.
IMAGE_KEY = "image"  # the encoded file's bytes (BMP, GIF, JPEG or PNG), as read
LABEL_KEY = "label"  # the class index into the config's class_names
# The image as stored, before any resizing or conversion; for statistics and data checks.
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
CHANNELS_KEY = "channels"

# Transformed: the image decoded, converted and resized, floats in [0, 1], [height, width, channels].
PIXELS_KEY = "pixels"

# Serving outputs beside the classifier's (components/models/images/familiarity.py), one value per image:
# the autoencoder's reconstruction error and the classifier's feature distance, each with its threshold,
# and whether the image is unlike the training images (the scores `autoencoder.score` reads above theirs).
ERROR_OUTPUT = "reconstruction_error"
THRESHOLD_OUTPUT = "reconstruction_threshold"
DISTANCE_OUTPUT = "feature_distance"
DISTANCE_THRESHOLD_OUTPUT = "feature_distance_threshold"
THRESHOLDS = {ERROR_OUTPUT: THRESHOLD_OUTPUT, DISTANCE_OUTPUT: DISTANCE_THRESHOLD_OUTPUT}
FLAG_OUTPUT = "unlike_training_data"
