//! Keras's mnist_convnet example in kiln: a small CNN on MNIST, about 99% test accuracy.
//!
//! `cargo run --release --example mnist_cnn -- [--epochs N] [--batch-size N]`
//!
//! Uses MNIST from the data directory (`KILN_DATA`, else the user's cache), downloading
//! it when missing; with neither, kiln's synthetic digits, and says so.

use kiln::prelude::*;

type B = kiln::backend::Cpu;

model! {
    /// Keras's mnist_convnet.
    pub struct MnistCnn {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (epochs, batch_size) = (flag("--epochs", 15), flag("--batch-size", 128));
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default());
    let device = Default::default();
    let model = MnistCnn::<B>::new(&device);
    println!("{}", model.summary());
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let start = std::time::Instant::now();
    let history = trainer.fit(
        &train,
        Fit::epochs(epochs)
            .batch_size(batch_size)
            .validation_split(0.1),
    )?;
    let scores = trainer.evaluate(&test)?;
    println!("Test loss: {:.4}", scores.get("loss").unwrap_or(f64::NAN));
    println!(
        "Test accuracy: {:.4}",
        scores.get("accuracy").unwrap_or(f64::NAN)
    );
    println!(
        "Trained {epochs} epochs in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    match history.plot("mnist_cnn_history.png") {
        Ok(files) => println!(
            "History charts: {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => println!("No history charts: {e}"),
    }
    Ok(())
}
