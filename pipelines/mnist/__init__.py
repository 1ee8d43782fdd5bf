"""The mnist pipeline: real MNIST digits from TFRecord files -> 0-9."""
