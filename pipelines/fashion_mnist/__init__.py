"""The fashion_mnist pipeline: Fashion-MNIST clothing images from TFRecord files -> ten kinds."""
