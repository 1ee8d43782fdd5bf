"""Iris feature names: the four measurements (centimetres) and the species label."""

FEATURE_KEYS = ("sepal_length", "sepal_width", "petal_length", "petal_width")

LABEL_KEY = "species"

# Label values in the data are indices into this tuple (scikit-learn's order).
SPECIES_NAMES = ("setosa", "versicolor", "virginica")
