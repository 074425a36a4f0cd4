//! Data-parallel training on the CPU: the MNIST CNN on MNIST with one worker, two workers
//! in this process, and two processes over 127.0.0.1, each worker given its share of the
//! machine's cores; images/s and the ratios to one worker.
//!
//! `cargo run --release --features distributed --example data_parallel -- [--steps 40] [--batch-size 128]`
//!
//! Started with `KILN_WORLD_SIZE`, `KILN_RANK` and `KILN_COORDINATOR` set, it is instead
//! one process of a multi-process run (the benchmark starts itself twice that way); on
//! two machines, for example:
//!
//! ```text
//! # on 10.0.0.1                                   # on 10.0.0.2
//! KILN_WORLD_SIZE=2 KILN_RANK=0 \                 KILN_WORLD_SIZE=2 KILN_RANK=1 \
//! KILN_COORDINATOR=10.0.0.1:29500 \               KILN_COORDINATOR=10.0.0.1:29500 \
//! cargo run --release --features distributed \    cargo run --release --features distributed \
//!   --example data_parallel                         --example data_parallel
//! ```

#[path = "common/cnns.rs"]
mod cnns;

use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Parser;
use cnns::MnistCnn;
use kiln::TrainError;
use kiln::backend::Cpu;
use kiln::datasets::ImageDataset;
use kiln::distributed::{DataParallel, Nodes};
use kiln::prelude::*;

/// Images/s of the MNIST CNN with 1 and 2 workers.
#[derive(Parser)]
struct Flags {
    /// Steps timed per run.
    #[arg(long, default_value_t = 40)]
    steps: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
}

/// One epoch of `flags.steps` steps over `data`: the seconds it took.
fn train(
    data: &ImageDataset,
    flags: &Flags,
    parallel: Option<DataParallel<burn::tensor::Device<Cpu>>>,
) -> Result<f64, TrainError> {
    let device = Default::default();
    let mut trainer = Trainer::new(MnistCnn::<Cpu>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let mut fit = Fit::epochs(1)
        .batch_size(flags.batch_size)
        .verbose(Verbosity::Silent);
    if let Some(p) = parallel {
        fit = fit.distribution(p);
    }
    let start = Instant::now();
    trainer.fit(data, fit)?;
    Ok(start.elapsed().as_secs_f64())
}

/// Two copies of this program as the two processes of one run, each with `threads`
/// threads: the seconds rank 0 reports.
fn two_processes(flags: &Flags, threads: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let children: Vec<_> = (0..2)
        .map(|rank| {
            Command::new(std::env::current_exe()?)
                .args(["--steps", &flags.steps.to_string()])
                .args(["--batch-size", &flags.batch_size.to_string()])
                .env("KILN_WORLD_SIZE", "2")
                .env("KILN_RANK", rank.to_string())
                .env("KILN_COORDINATOR", format!("127.0.0.1:{port}"))
                .env("RAYON_NUM_THREADS", threads.to_string())
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut seconds = None;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err("a process of the two-process run failed".into());
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(s) = text.lines().find_map(|l| l.strip_prefix("seconds: ")) {
            seconds = Some(s.trim().parse()?);
        }
    }
    seconds.ok_or_else(|| "rank 0 reported no time".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::parse();
    let (train_set, _) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let data = train_set.take(flags.steps * flags.batch_size);
    let device = Default::default();
    if let Some(nodes) = Nodes::from_env()? {
        let seconds = train(
            &data,
            &flags,
            Some(DataParallel::new([device]).nodes(nodes)),
        )?;
        println!("seconds: {seconds}");
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let half = (cores / 2).max(1);
    println!(
        "MNIST CNN on {}, {} steps of {}, Adam, {cores} cores",
        data.name(),
        flags.steps,
        flags.batch_size
    );
    train(&data.take(2 * flags.batch_size), &flags, None)?; // warm-up
    let runs = [
        ("1 worker", train(&data, &flags, None)?),
        (
            "2 workers in one process",
            train(
                &data,
                &flags,
                Some(DataParallel::new([device, device]).threads_per_worker(half)),
            )?,
        ),
        ("2 processes over 127.0.0.1", two_processes(&flags, half)?),
    ];
    let images = data.len() as f64;
    let one = images / runs[0].1;
    for (name, seconds) in runs {
        let rate = images / seconds;
        println!(
            "{name:<28} {rate:>8.0} images/s  {:.2}x one worker",
            rate / one
        );
    }
    Ok(())
}
