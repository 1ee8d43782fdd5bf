"""The table pipeline's fixed names: what Transform adds beside the user's columns. The columns
themselves are the user's, read from the data (the label from the config, the features' types from
Transform's input). No imports: the config reads these too."""

# Transform's outputs besides one per feature column (each under the column's own name): the target
# the model fits (the class index; for regression the label standardized with the train split's
# mean and standard deviation), and the naive baselines' values, broadcast to every example.
LABEL_KEY = "__label__"
MAJORITY_KEY = "__majority_class__"
MEAN_KEY = "__label_mean__"
STD_KEY = "__label_std__"
ADDED_KEYS = (LABEL_KEY, MAJORITY_KEY, MEAN_KEY, STD_KEY)

# Ids a categorical column's vocabulary gives values the train split never had.
NUM_OOV_BUCKETS = 1

# The naive baselines the model must not lose to (baseline outputs of the evaluation signature).
MAJORITY = "majority"
MEAN = "mean"

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)


def vocabulary_name(column: str) -> str:
    """The file name of a categorical column's vocabulary in the Transform output."""
    return f"vocabulary_{column}"
