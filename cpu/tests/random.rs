//! KilnCpu's parallel random draws: reproducible from `Backend::seed`, with the moments
//! of their distributions, and Flex's own draws for the distributions it keeps.

use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use kiln_cpu::KilnCpu;
use std::sync::Mutex;

/// Flex's generator is one per process and these tests run on parallel threads: each
/// seed-then-draw holds this lock, so another test cannot reseed or draw in between.
static GENERATOR: Mutex<()> = Mutex::new(());

fn draw<B: Backend>(seed: u64, n: usize, distribution: Distribution) -> Vec<f32> {
    let _only_us = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let device = Default::default();
    B::seed(&device, seed);
    Tensor::<B, 1>::random([n], distribution, &device)
        .into_data()
        .to_vec::<f32>()
        .expect("f32 data")
}

fn mean(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64
}

#[test]
fn the_same_seed_gives_the_same_values_and_another_seed_others() {
    let d = Distribution::Uniform(-1.0, 1.0);
    assert_eq!(
        draw::<KilnCpu>(7, 100_000, d),
        draw::<KilnCpu>(7, 100_000, d)
    );
    assert_ne!(
        draw::<KilnCpu>(7, 100_000, d),
        draw::<KilnCpu>(8, 100_000, d)
    );
}

#[test]
fn draws_follow_their_distributions() {
    let n = 1 << 20;
    // Bernoulli(0.3): only 0 and 1, a mean within 5 standard errors (0.0023) of 0.3.
    let mask = draw::<KilnCpu>(1, n, Distribution::Bernoulli(0.3));
    assert!(mask.iter().all(|&v| v == 0.0 || v == 1.0));
    assert!((mean(&mask) - 0.3).abs() < 0.0023, "{}", mean(&mask));
    // Uniform(−2, 3): inside the bounds, mean 0.5 within 5 standard errors (0.0071).
    let uniform = draw::<KilnCpu>(2, n, Distribution::Uniform(-2.0, 3.0));
    assert!(uniform.iter().all(|&v| (-2.0..3.0).contains(&v)));
    assert!((mean(&uniform) - 0.5).abs() < 0.0071, "{}", mean(&uniform));
    // Default: [0, 1), mean 0.5 within 5 standard errors (0.0014); neighbours not
    // correlated (their product's mean is 1/4 within 0.0015).
    let unit = draw::<KilnCpu>(3, n, Distribution::Default);
    assert!(unit.iter().all(|&v| (0.0..1.0).contains(&v)));
    assert!((mean(&unit) - 0.5).abs() < 0.0014, "{}", mean(&unit));
    let products: Vec<f32> = unit.windows(2).map(|w| w[0] * w[1]).collect();
    assert!(
        (mean(&products) - 0.25).abs() < 0.0015,
        "{}",
        mean(&products)
    );
}

#[test]
fn normal_draws_are_flex_s_own() {
    let d = Distribution::Normal(0.0, 1.0);
    assert_eq!(draw::<KilnCpu>(4, 1000, d), draw::<Flex>(4, 1000, d));
}
