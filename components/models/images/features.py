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

# Serving outputs of the autoencoder beside the classifier's (components/models/images/autoencoder.py),
# one value per image: its reconstruction error, the threshold, and whether the error is above it.
ERROR_OUTPUT = "reconstruction_error"
THRESHOLD_OUTPUT = "reconstruction_threshold"
FLAG_OUTPUT = "unlike_training_data"
