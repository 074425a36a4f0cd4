//! A recurrent classifier on a synthetic but learnable task: does the motif 1 2 3 occur,
//! in that order and in a row, somewhere in a sequence of 20 tokens out of 8? Tokens are
//! one-hot (each sequence `[20, 8]`), or ids looked up by an Embedding (`[20]`); half the
//! sequences hold the motif.
//!
//! `cargo run --release --example sequence_classifier -- [--model lstm|gru|embedding|bidirectional|attention]
//!  [--epochs 8] [--batch-size 64] [--sequences 8000] [--device cpu|cuda]`

mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, ValueEnum};
use common::Device;
use kiln::datasets::{ArrayDataset, motif_sequences, motif_token_ids};
use kiln::prelude::*;

/// Which classifier (`--model`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Net {
    /// One-hot tokens into an LSTM.
    Lstm,
    /// One-hot tokens into two stacked GRUs.
    Gru,
    /// Token ids through an Embedding into an LSTM.
    Embedding,
    /// One-hot tokens into an LSTM reading both ways (Keras's imdb_bidirectional_lstm).
    Bidirectional,
    /// One-hot tokens into an LSTM whose steps attend to each other (Bahdanau's scores).
    Attention,
}

/// A recurrent classifier on the motif task.
#[derive(Parser)]
struct Flags {
    #[arg(long, value_enum, default_value_t = Net::Lstm)]
    model: Net,
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Training sequences.
    #[arg(long, default_value_t = 8_000)]
    sequences: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

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

model! {
    /// Keras's imdb_bidirectional_lstm on one-hot tokens: two LSTMs reading both ways, the
    /// first passing on every step's two states side by side.
    pub struct BidirectionalClassifier {
        input: [_, 8],
        Bidirectional(LSTM(16, return_sequences = true)),
        Bidirectional(LSTM(16)),
        Dense(2, activation = softmax),
    }
}

model! {
    /// An LSTM passes on every step; each step attends to all of them with Bahdanau's
    /// additive scores (Keras's AdditiveAttention), and the most telling one decides.
    pub struct AttentionClassifier {
        input tokens: [_, 8],
        let steps = tokens -> LSTM(16, return_sequences = true);
        let y = AdditiveAttention(steps, steps) -> GlobalMaxPooling1D -> Dense(2, activation = softmax);
        output y,
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
    let train = sequences(flags.sequences, 1);
    let test = sequences(2_000, 2);
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new().learning_rate(3e-3))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let epochs = flags.epochs;
    let start = std::time::Instant::now();
    trainer.fit(
        &train,
        Fit::epochs(epochs)
            .batch_size(flags.batch_size)
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
    match flags.model {
        Net::Lstm => train(LstmClassifier::<B>::new(&device), motif_sequences, flags),
        Net::Gru => train(GruClassifier::<B>::new(&device), motif_sequences, flags),
        Net::Embedding => train(
            EmbeddingClassifier::<B>::new(&device),
            motif_token_ids,
            flags,
        ),
        Net::Bidirectional => train(
            BidirectionalClassifier::<B>::new(&device),
            motif_sequences,
            flags,
        ),
        Net::Attention => train(
            AttentionClassifier::<B>::new(&device),
            motif_sequences,
            flags,
        ),
    }
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
