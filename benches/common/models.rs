//! The reference models, declared once for the benchmarks and the tests that include
//! this file: the seed's MLP, Keras's classic mnist_cnn, Keras's mnist_convnet, a
//! cifar10_cnn-shaped net (without dropout) and the `resnet_cifar` example's ResNet-14.
#![allow(dead_code)] // each includer uses its own part

use kiln::prelude::*;

#[path = "../../examples/common/resnet14.rs"]
pub mod resnet14;

#[path = "../../examples/common/cnns.rs"]
mod cnns;
#[allow(unused_imports)] // each includer uses its own part
pub use cnns::MnistCnn;

model! {
    pub struct MnistMlp {
        input: [784],
        Dense(128, activation = relu),
        Dropout(0.2),
        Dense(128, activation = relu),
        Dropout(0.2),
        Dense(10, activation = softmax),
    }
}

model! {
    pub struct CifarCnn {
        input: [3, 32, 32],
        Conv2D(32, 3, padding = same, activation = relu),
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Conv2D(64, 3, padding = same, activation = relu),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dense(512, activation = relu),
        Dense(10, activation = softmax),
    }
}

model! {
    pub struct MnistConvnet {
        input: [1, 28, 28],
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dropout(0.5),
        Dense(10, activation = softmax),
    }
}
