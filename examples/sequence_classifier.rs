//! A recurrent classifier on a synthetic but learnable task: does the motif 1 2 3 occur,
//! in that order and in a row, somewhere in a sequence of 20 tokens out of 8? Tokens are
//! one-hot (each sequence `[20, 8]`), or ids looked up by an Embedding (`[20]`); half the
//! sequences hold the motif.
//!
//! `cargo run --release --example sequence_classifier -- [--model lstm|gru|embedding]
//!  [--epochs 8] [--batch-size 64] [--sequences 8000] [--device cpu|cuda]`

mod common;

use burn::tensor::backend::AutodiffBackend;
use common::Flags;
use kiln::datasets::{ArrayDataset, motif_sequences, motif_token_ids};
use kiln::prelude::*;

model! {
    /// An LSTM reads the sequence; its last state decides.
    pub struct LstmClassifier {
        input: [_, 8],
        LSTM(32),
        Dense(2, activation = softmax),
    }
}

model! {
    /// Two stacked GRUs, the first passing on every step's state.
    pub struct GruClassifier {
        input: [_, 8],
        GRU(32, return_sequences = true),
        GRU(32),
        Dense(2, activation = softmax),
    }
}

model! {
    /// Token ids looked up as learned vectors, then an LSTM.
    pub struct EmbeddingClassifier {
        input: [_],
        Embedding(8, 16),
        LSTM(32),
        Dense(2, activation = softmax),
    }
}

fn train<B: AutodiffBackend, M>(
    model: M,
    sequences: fn(usize, u64) -> ArrayDataset,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>>
where
    M: burn::module::AutodiffModule<B> + Model<B, Output = Tensor<B, 2>>,
    M::InnerModule: Model<B::InnerBackend>,
{
    println!(
        "{}",
        kiln::Summary(model.spec().ok_or("a declared model")?.check()?)
    );
    let train = sequences(flags.get("sequences", 8_000)?, 1);
    let test = sequences(2_000, 2);
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new().learning_rate(3e-3))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let epochs = flags.get("epochs", 8)?;
    let start = std::time::Instant::now();
    trainer.fit(
        &train,
        Fit::epochs(epochs)
            .batch_size(flags.get("batch-size", 64)?)
            .validation_split(0.1),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let scores = trainer.evaluate(&test)?;
    println!(
        "Test accuracy on 2,000 new sequences: {:.4} (always guessing one class: about 0.5)",
        scores.get("accuracy").unwrap_or(f64::NAN)
    );
    println!("Trained {epochs} epochs in {seconds:.0} s");
    Ok(())
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    match flags.get("model", String::from("lstm"))?.as_str() {
        "lstm" => train(LstmClassifier::<B>::new(&device), motif_sequences, flags),
        "gru" => train(GruClassifier::<B>::new(&device), motif_sequences, flags),
        "embedding" => train(
            EmbeddingClassifier::<B>::new(&device),
            motif_token_ids,
            flags,
        ),
        other => Err(format!("unknown model `{other}`: use lstm, gru or embedding").into()),
    }
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags, run(&flags))
}
