"""The cifar10 pipeline: CIFAR-10 colour photos from TFRecord files -> ten classes."""
