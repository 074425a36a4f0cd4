//! The classic Keras CNNs the examples train and look inside: `mnist_cnn` and
//! `cifar10_cnn`.
#![allow(dead_code)] // each example uses its own part

use kiln::prelude::*;

model! {
    /// Keras's mnist_cnn.
    pub struct MnistCnn {
        input: [1, 28, 28],
        Conv2D(32, 3, activation = relu),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten,
        Dense(128, activation = relu),
        Dropout(0.5),
        Dense(10, activation = softmax),
    }
}

model! {
    /// Keras's cifar10_cnn example.
    pub struct CifarCnn {
        input: [3, 32, 32],
        Conv2D(32, 3, padding = same, activation = relu),
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Conv2D(64, 3, padding = same, activation = relu),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten,
        Dense(512, activation = relu),
        Dropout(0.5),
        Dense(10, activation = softmax),
    }
}
