//! Imports a Keras model: prints the `model!` declaration that builds it (paste it into
//! your code, where the compiler checks it as any other) and writes its weights as a kiln
//! file that `kiln::load_weights` reads into that model.
//!
//! `cargo run --example import -- model.keras [--name Imported] [--weights imported.safetensors]`
//!
//! Keras 3's `.keras` files (`model.save("model.keras")`) of Sequential models whose layers
//! kiln has; any other layer is an error naming it.

mod common;

use std::path::PathBuf;

use clap::Parser;

/// Imports a Keras model as a `model!` declaration and kiln weights.
#[derive(Parser)]
struct Flags {
    /// The `.keras` file.
    model: PathBuf,
    /// The name of the declared model.
    #[arg(long, default_value = "Imported")]
    name: String,
    /// Where to write the weights.
    #[arg(long, default_value = "imported.safetensors")]
    weights: PathBuf,
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    let imported = kiln::import::keras(&flags.model)?;
    print!("{}", imported.declaration(&flags.name));
    imported.save_weights(&flags.weights)?;
    println!(
        "\n// {}\n// Weights: kiln::load_weights(&mut {}::<B>::new(&device), {:?})",
        imported
            .spec
            .summary()
            .map(|s| {
                let p = s.0.params();
                format!("{} parameters ({} trainable)", p.total(), p.trainable)
            })
            .unwrap_or_default(),
        flags.name,
        flags.weights
    );
    Ok(())
}
