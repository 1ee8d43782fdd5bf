"""The notes' image classifiers, as builders registered by name: `MODELS["lenet5"](input_shape, class_count)`.

Each builder returns an uncompiled keras.Model from pixels [height, width, channels] in [0, 1]
to class probabilities. The notes size them for 28x28 or 32x32 images; here every one also
takes smaller ones, down to the 8x8 digits: a convolution whose kernel no longer fits the feature
map pads it ('same') instead, and a pooling layer is left out once the map is smaller than its
window, so the layers stay the notes' layers and only the spatial sizes shrink.

The last layer computes in float32 whatever Keras' dtype policy (components/precision.py): under
bfloat16 mixed precision the probabilities, and so the loss, stay float32, as Keras' mixed-precision
guide says.

Besides the convolutional ones, the notes' sequence readings of an image: `rnn_rows`, `lstm_rows`
and `bilstm_rows` read each image row as one time step ([height, width, channels] becomes
`height` steps of `width * channels` values) with SimpleRNN(32), LSTM(32) or a bidirectional
LSTM(32), the last state feeding the Dense softmax classifier; any image size.

The notes' own subclassed classes (components/models/images/notes_models.py) are registered under their
class names: `Baseline` is the notes' `class Baseline(Model)`, `baseline` the same layers built here.
"""

from collections.abc import Callable

import tf_keras as keras
from tf_keras import layers

from components.models.images import notes_models

Builder = Callable[[tuple[int, int, int], int], keras.Model]
MODELS: dict[str, Builder] = {}
# The recurrent models: components/precision.py leaves them in float32 unless told otherwise.
RECURRENT = frozenset({"rnn_rows", "lstm_rows", "bilstm_rows"})


def register(name: str) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        MODELS[name] = builder
        return builder

    return add


def build(name: str, input_shape: tuple[int, int, int], class_count: int) -> keras.Model:
    """The zoo model called `name`; ValueError naming the zoo's models if there is none."""
    if name not in MODELS:
        raise ValueError(f"model {name!r} is not in the zoo; choose one of {', '.join(MODELS)}.")
    return MODELS[name](input_shape, class_count)


def _conv(x, filters: int, kernel: int, strides: int = 1, padding: str = "same", activation=None, use_bias=True):
    if padding == "valid" and min(x.shape[1:3]) < kernel:
        padding = "same"
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, activation=activation, use_bias=use_bias)(x)


def _max_pool(x, size: int, strides: int, padding: str = "valid"):
    if min(x.shape[1:3]) < size:
        return x
    return layers.MaxPooling2D(size, strides=strides, padding=padding)(x)


def _conv_bn_relu(x, filters: int, kernel: int = 3, strides: int = 1, padding: str = "same", use_bias=True):
    x = _conv(x, filters, kernel, strides, padding, use_bias=use_bias)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def _classifier(inputs, x, class_count: int, name: str, l2: float = 0.0) -> keras.Model:
    """The Dense softmax over `x`, in float32 (see above); `l2`: the L2 penalty on its kernel."""
    regularizer = keras.regularizers.l2(l2) if l2 else None
    outputs = layers.Dense(
        class_count, activation="softmax", kernel_regularizer=regularizer, dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


@register("mlp")
def build_mlp(input_shape, class_count: int) -> keras.Model:
    """The notes' first classifier: Flatten, Dense 128 ReLU, Dense softmax."""
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Flatten()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    return _classifier(inputs, x, class_count, "mlp")


@register("baseline")
def build_baseline_cnn(input_shape, class_count: int) -> keras.Model:
    """The notes' baseline CNN: Conv 6@5x5, BN, ReLU, MaxPool 2x2, Dropout 0.2, Dense 128 ReLU, Dropout 0.2, Dense."""
    inputs = keras.Input(input_shape, name="pixels")
    x = _conv_bn_relu(inputs, 6, 5)
    x = _max_pool(x, 2, 2, padding="same")
    x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    return _classifier(inputs, x, class_count, "baseline")


@register("lenet5")
def build_lenet5(input_shape, class_count: int) -> keras.Model:
    """LeNet-5 as in the notes: two sigmoid Conv 5x5 (6, 16 filters) each with MaxPool 2x2, Dense 120, 84 sigmoid."""
    inputs = keras.Input(input_shape, name="pixels")
    x = _conv(inputs, 6, 5, padding="valid", activation="sigmoid")
    x = _max_pool(x, 2, 2)
    x = _conv(x, 16, 5, padding="valid", activation="sigmoid")
    x = _max_pool(x, 2, 2)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="sigmoid")(x)
    x = layers.Dense(84, activation="sigmoid")(x)
    return _classifier(inputs, x, class_count, "lenet5")


@register("alexnet8")
def build_alexnet8(input_shape, class_count: int) -> keras.Model:
    """AlexNet in the notes' 8 layers: Conv 96, 256 (BN, ReLU, MaxPool 3x3/2), Conv 384, 384, 256
    (MaxPool 3x3/2), Dense 2048, 2048 with Dropout 0.5."""
    inputs = keras.Input(input_shape, name="pixels")
    x = _conv_bn_relu(inputs, 96, 3, padding="valid")
    x = _max_pool(x, 3, 2)
    x = _conv_bn_relu(x, 256, 3, padding="valid")
    x = _max_pool(x, 3, 2)
    x = _conv(x, 384, 3, activation="relu")
    x = _conv(x, 384, 3, activation="relu")
    x = _conv(x, 256, 3, activation="relu")
    x = _max_pool(x, 3, 2)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(2048, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    return _classifier(inputs, x, class_count, "alexnet8")


@register("vgg16")
def build_vgg16(input_shape, class_count: int) -> keras.Model:
    """VGG16 as in the notes: 13 Conv 3x3 with BN and ReLU in five blocks (64, 128, 256, 512, 512
    filters; MaxPool 2x2 and Dropout 0.2 after each), Dense 512, 512 with Dropout 0.2."""
    inputs = keras.Input(input_shape, name="pixels")
    x = inputs
    for filters, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            x = _conv_bn_relu(x, filters)
        x = _max_pool(x, 2, 2)
        x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(512, activation="relu")(x)
        x = layers.Dropout(0.2)(x)
    return _classifier(inputs, x, class_count, "vgg16")


@register("vgg6")
def build_vgg6(input_shape, class_count: int) -> keras.Model:
    """A VGG16 cut to CPU size (not in the notes): VGG16's blocks of Conv 3x3 with BN and ReLU, each block
    ending in MaxPool 2x2 and Dropout 0.2, but three blocks of two convolutions (32, 64, 128 filters), then
    Flatten and the Dense softmax without VGG16's two Dense 512. About 0.3 million parameters, 1/50 of VGG16."""
    inputs = keras.Input(input_shape, name="pixels")
    x = inputs
    for filters in (32, 64, 128):
        for _ in range(2):
            x = _conv_bn_relu(x, filters)
        x = _max_pool(x, 2, 2)
        x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    return _classifier(inputs, x, class_count, "vgg6")


def _inception_block(x, filters: int, strides: int):
    """Four branches concatenated: 1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1."""
    branch1 = _conv_bn_relu(x, filters, 1, strides)
    branch2 = _conv_bn_relu(_conv_bn_relu(x, filters, 1, strides), filters, 3)
    branch3 = _conv_bn_relu(_conv_bn_relu(x, filters, 1, strides), filters, 5)
    pooled = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    branch4 = _conv_bn_relu(pooled, filters, 1, strides)
    return layers.Concatenate()([branch1, branch2, branch3, branch4])


@register("inception10")
def build_inception10(input_shape, class_count: int) -> keras.Model:
    """The notes' Inception10: Conv 16 with BN and ReLU, two stages of two Inception blocks (the first
    of each with stride 2, filters doubling per stage), global average pooling."""
    inputs = keras.Input(input_shape, name="pixels")
    x = _conv_bn_relu(inputs, 16)
    filters = 16
    for _ in range(2):
        x = _inception_block(x, filters, strides=2)
        x = _inception_block(x, filters, strides=1)
        filters *= 2
    x = layers.GlobalAveragePooling2D()(x)
    return _classifier(inputs, x, class_count, "inception10")


def _residual_block(x, filters: int, strides: int):
    """Two Conv 3x3 with BN; the input is added back (through a 1x1 Conv where the shape changes). The
    convolutions have no bias, as the notes' (BN's offset does its work)."""
    shortcut = x
    x = _conv_bn_relu(x, filters, 3, strides, use_bias=False)
    x = _conv(x, filters, 3, use_bias=False)
    x = layers.BatchNormalization()(x)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.BatchNormalization()(_conv(shortcut, filters, 1, strides, use_bias=False))
    return layers.Activation("relu")(layers.Add()([x, shortcut]))


@register("resnet18")
def build_resnet18(input_shape, class_count: int) -> keras.Model:
    """The notes' ResNet18: Conv 64 with BN and ReLU, four stages of two residual blocks
    (64, 128, 256, 512 filters; stride 2 entering each stage after the first), global average pooling,
    the Dense softmax with the notes' L2 penalty (Keras' default factor, 0.01) on its kernel."""
    inputs = keras.Input(input_shape, name="pixels")
    x = _conv_bn_relu(inputs, 64, use_bias=False)
    for stage, filters in enumerate((64, 128, 256, 512)):
        x = _residual_block(x, filters, strides=1 if stage == 0 else 2)
        x = _residual_block(x, filters, strides=1)
    x = layers.GlobalAveragePooling2D()(x)
    return _classifier(inputs, x, class_count, "resnet18", l2=0.01)


def _rows(input_shape, class_count: int, recurrent: layers.Layer, name: str) -> keras.Model:
    """Each image row one time step, [height, width, channels] -> [height, width * channels], then
    `recurrent` (returning its last output only) and the classifier."""
    height, width, channels = input_shape
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Reshape((height, width * channels), name="rows")(inputs)
    x = recurrent(x)
    return _classifier(inputs, x, class_count, name)


@register("rnn_rows")
def build_rnn_rows(input_shape, class_count: int) -> keras.Model:
    """The notes' RNN over image rows: each row a time step, SimpleRNN 32, Dense softmax."""
    return _rows(input_shape, class_count, layers.SimpleRNN(32), "rnn_rows")


@register("lstm_rows")
def build_lstm_rows(input_shape, class_count: int) -> keras.Model:
    """The notes' LSTM over image rows: each row a time step, LSTM 32, Dense softmax."""
    return _rows(input_shape, class_count, layers.LSTM(32), "lstm_rows")


@register("bilstm_rows")
def build_bilstm_rows(input_shape, class_count: int) -> keras.Model:
    """The notes' bidirectional LSTM over image rows: each row a time step, Bidirectional(LSTM 32)
    (64 values, both directions' last states), Dense softmax."""
    return _rows(input_shape, class_count, layers.Bidirectional(layers.LSTM(32)), "bilstm_rows")


@register("Baseline")
def build_notes_baseline(input_shape, class_count: int) -> keras.Model:
    """The notes' `class Baseline(Model)` itself, a subclassed model (the layers of `baseline`)."""
    return notes_models.Baseline(class_count)
