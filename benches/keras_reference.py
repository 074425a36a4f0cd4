"""The training benchmark's Keras reference: the reference models in Keras 3 on
TensorFlow, trained by `model.fit` (a compiled graph, with Keras's default
`jit_compile="auto"`), Adam, f32, on this machine's CPU. Images are channels-last, as
Keras has them. Prints `model images_per_second` lines.

Usage: python3 benches/keras_reference.py [seconds per model] [models, comma-separated]
       [batch size]
"""
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from measure import seconds_per_step  # noqa: E402


def mlp():
    return keras.Sequential([
        keras.Input((784,)),
        layers.Dense(128, activation="relu"), layers.Dropout(0.2),
        layers.Dense(128, activation="relu"), layers.Dropout(0.2),
        layers.Dense(10),
    ])


def mnist_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Dropout(0.25), layers.Flatten(),
        layers.Dense(128, activation="relu"), layers.Dropout(0.5), layers.Dense(10),
    ])


def cifar_cnn():
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dense(10),
    ])


def resnet14():
    """examples/resnet_cifar.rs, layer for layer."""

    def conv_bn(x, filters, strides=1):
        x = layers.Conv2D(filters, 3, strides=strides, padding="same")(x)
        return layers.BatchNormalization(momentum=0.9)(x)

    def block(x, filters, strides=1):
        r = layers.Activation("relu")(conv_bn(x, filters, strides))
        r = conv_bn(r, filters)
        if strides != 1:
            x = layers.Conv2D(filters, 1, strides=strides)(x)
        return layers.Activation("relu")(layers.Add()([x, r]))

    inputs = keras.Input((32, 32, 3))
    x = layers.Activation("relu")(conv_bn(inputs, 16))
    for filters, strides in [(16, 1), (16, 1), (32, 2), (32, 1), (64, 2), (64, 1)]:
        x = block(x, filters, strides)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10)(x))


MODELS = {"mlp": mlp, "mnist_cnn": mnist_cnn, "cifar_cnn": cifar_cnn, "resnet14": resnet14}


def images_per_second(build, seconds, batch):
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    shape = model.input_shape[1:]
    rng = np.random.default_rng(0)

    class Stamps(keras.callbacks.Callback):
        """The time at the start of each batch (a begin hook: Keras still runs the
        end-of-batch hooks asynchronously, as without it)."""

        def on_train_batch_begin(self, batch, logs=None):
            self.stamps.append(time.perf_counter())

    stamps = Stamps()

    def run(steps):
        """`steps` steps and the time at the start of each and after the last: the
        start of one batch more, so that the end of `fit` does not count."""
        x = rng.random(((steps + 1) * batch,) + shape, dtype=np.float32)
        y = rng.integers(0, 10, (steps + 1) * batch)
        stamps.stamps = []
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0,
                  callbacks=[stamps])
        return stamps.stamps

    run(3)  # traces and compiles the training step
    return batch / seconds_per_step(run, seconds)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    wanted = sys.argv[2].split(",") if len(sys.argv) > 2 else list(MODELS)
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    print("version", keras.__version__, flush=True)
    for name in wanted:
        if name in MODELS:
            print(name, round(images_per_second(MODELS[name], seconds, batch), 1), flush=True)
