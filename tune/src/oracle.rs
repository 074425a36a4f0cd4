//! The oracles: what to try next, from the space and the trials so far. Each is a pure
//! function of those and a seeded generator, so a resumed search asks the same questions.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::TuneError;
use crate::gp::{Gp, minimize_lcb};
use crate::space::HyperParameter;
use crate::trial::{Budget, Objective, Status, TrialRecord};
use crate::value::Values;

/// What an oracle sees: the space, every trial so far (running ones too) and the objective.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The hyperparameters declared so far.
    pub space: &'a [HyperParameter],
    /// Every trial started so far, in order.
    pub trials: &'a [TrialRecord],
    /// What the search optimises.
    pub objective: &'a Objective,
}

/// An oracle's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Proposal {
    /// Run a trial with these values.
    Run(Values),
    /// Run a trial with these values for this Hyperband budget.
    RunFor(Values, Budget),
    /// Nothing to start until a running trial ends (another process's).
    Wait,
    /// The search is over.
    Done,
}

/// Chooses each trial's hyperparameter values; KerasTuner's `Oracle`.
pub trait Oracle {
    /// Its name, as the journal records it: a resumed search must use the same kind of
    /// oracle (its settings, `max_trials` above all, may change).
    fn name(&self) -> &'static str;

    /// The next trial's values, from `context` and a generator seeded for this trial.
    ///
    /// # Errors
    /// When the space cannot be searched this way (a grid over a continuous float).
    fn propose(&self, context: &Context<'_>, rng: &mut StdRng) -> Result<Proposal, TuneError>;
}

/// A boxed oracle, for an oracle chosen at run time (`--tuner random`).
impl<O: Oracle + ?Sized> Oracle for Box<O> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn propose(&self, context: &Context<'_>, rng: &mut StdRng) -> Result<Proposal, TuneError> {
        (**self).propose(context, rng)
    }
}

/// How many times an oracle draws again when it draws a trial already run (Keras's
/// `_max_collisions`) before it declares the space exhausted.
const MAX_COLLISIONS: usize = 100;

/// Random values for every hyperparameter active under the values drawn before it.
pub(crate) fn random_values(space: &[HyperParameter], rng: &mut StdRng) -> Values {
    let mut values = Values::new();
    for hp in space {
        if hp.is_active(&values) {
            values.insert(hp.name.clone(), hp.from_prob(rng.random::<f64>()));
        }
    }
    values
}

/// Whether no trial has had these values, each active hyperparameter a trial lacks (one
/// declared after it started) counting at its default.
pub(crate) fn is_new(space: &[HyperParameter], values: &Values, trials: &[TrialRecord]) -> bool {
    let values = with_defaults(space, values);
    !trials
        .iter()
        .any(|t| with_defaults(space, &t.values).same_as(&values))
}

/// `values` with the default of every active hyperparameter they lack.
fn with_defaults(space: &[HyperParameter], values: &Values) -> Values {
    let mut full = Values::new();
    for hp in space {
        if hp.is_active(&full) {
            full.insert(
                hp.name.clone(),
                values.get(&hp.name).unwrap_or(&hp.default).clone(),
            );
        }
    }
    // What the space does not know yet stays as it is.
    for (name, value) in values.iter() {
        if !space.iter().any(|h| h.name == name) {
            full.insert(name, value.clone());
        }
    }
    full
}

/// Random values no trial has had, if some are found.
fn new_random_values(context: &Context<'_>, rng: &mut StdRng) -> Proposal {
    (0..MAX_COLLISIONS)
        .map(|_| random_values(context.space, rng))
        .find(|v| is_new(context.space, v, context.trials))
        .map_or(Proposal::Done, Proposal::Run)
}

/// Random values for each trial; KerasTuner's `RandomSearch`.
///
#[derive(Clone, Debug)]
pub struct RandomSearch {
    max_trials: usize,
}

impl RandomSearch {
    /// Ten trials, as Keras.
    pub fn new() -> Self {
        RandomSearch { max_trials: 10 }
    }

    /// How many trials to run.
    pub fn max_trials(mut self, max_trials: usize) -> Self {
        self.max_trials = max_trials;
        self
    }
}

impl Default for RandomSearch {
    fn default() -> Self {
        RandomSearch::new()
    }
}

impl Oracle for RandomSearch {
    fn name(&self) -> &'static str {
        "random_search"
    }

    fn propose(&self, context: &Context<'_>, rng: &mut StdRng) -> Result<Proposal, TuneError> {
        if context.trials.len() >= self.max_trials {
            return Ok(Proposal::Done);
        }
        Ok(new_random_values(context, rng))
    }
}

/// Every combination of every hyperparameter's values, the last declared varying
/// fastest; KerasTuner's `GridSearch`. A float needs a `step`.
#[derive(Clone, Debug, Default)]
pub struct GridSearch {
    max_trials: Option<usize>,
}

impl GridSearch {
    /// The whole grid.
    pub fn new() -> Self {
        GridSearch::default()
    }

    /// At most this many trials.
    pub fn max_trials(mut self, max_trials: usize) -> Self {
        self.max_trials = Some(max_trials);
        self
    }
}

impl Oracle for GridSearch {
    fn name(&self) -> &'static str {
        "grid_search"
    }

    fn propose(&self, context: &Context<'_>, _rng: &mut StdRng) -> Result<Proposal, TuneError> {
        if self.max_trials.is_some_and(|n| context.trials.len() >= n) {
            return Ok(Proposal::Done);
        }
        let grids = context
            .space
            .iter()
            .map(|hp| hp.grid().map_err(TuneError::Space))
            .collect::<Result<Vec<_>, _>>()?;
        let mut digits = vec![0; grids.len()];
        loop {
            let values = grid_point(context.space, &grids, &digits);
            if is_new(context.space, &values, context.trials) {
                return Ok(Proposal::Run(values));
            }
            if !advance(&mut digits, &grids) {
                return Ok(Proposal::Done);
            }
        }
    }
}

/// The grid's point at `digits`, without the hyperparameters it leaves inactive.
fn grid_point(space: &[HyperParameter], grids: &[Vec<crate::Value>], digits: &[usize]) -> Values {
    let mut values = Values::new();
    for ((hp, grid), &digit) in space.iter().zip(grids).zip(digits) {
        if let Some(v) = grid.get(digit).filter(|_| hp.is_active(&values)) {
            values.insert(hp.name.clone(), v.clone());
        }
    }
    values
}

/// Steps `digits` like an odometer (the last fastest); false after the last point.
fn advance(digits: &mut [usize], grids: &[Vec<crate::Value>]) -> bool {
    for (digit, grid) in digits.iter_mut().zip(grids).rev() {
        *digit += 1;
        if *digit < grid.len() {
            return true;
        }
        *digit = 0;
    }
    false
}

/// Bayesian optimisation with a Gaussian process, as KerasTuner's
/// `BayesianOptimization`: random trials first (`max(3·d, 3)` for d hyperparameters),
/// then the values minimising the lower confidence bound μ − β·σ of the objective
/// (as a loss), β = 2.6; running trials count at μ + σ so parallel trials spread out.
#[derive(Clone, Debug)]
pub struct BayesianOptimization {
    max_trials: usize,
    num_initial_points: Option<usize>,
    beta: f64,
}

impl BayesianOptimization {
    /// Ten trials, as Keras.
    pub fn new() -> Self {
        BayesianOptimization {
            max_trials: 10,
            num_initial_points: None,
            beta: 2.6,
        }
    }

    /// How many trials to run.
    pub fn max_trials(mut self, max_trials: usize) -> Self {
        self.max_trials = max_trials;
        self
    }

    /// How many random trials come first (`max(3·d, 3)` by default).
    pub fn num_initial_points(mut self, points: usize) -> Self {
        self.num_initial_points = Some(points);
        self
    }

    /// The weight of σ in the lower confidence bound (2.6): higher explores more.
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// The point of the unit cube to try next, from the trials' scores.
    fn suggest(
        &self,
        context: &Context<'_>,
        searched: &[&HyperParameter],
        rng: &mut StdRng,
    ) -> Option<Vec<f64>> {
        let encode = |t: &TrialRecord| -> Vec<f64> {
            searched
                .iter()
                .map(|hp| hp.to_prob(t.values.get(&hp.name).unwrap_or(&hp.default)))
                .collect()
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for t in context.trials {
            if let Some(score) = t.completed_score() {
                x.push(encode(t));
                y.push(context.objective.as_loss(score));
            }
        }
        if x.is_empty() {
            return None;
        }
        let running: Vec<Vec<f64>> = context
            .trials
            .iter()
            .filter(|t| t.status == Status::Running)
            .map(encode)
            .collect();
        if !running.is_empty() {
            let gp = Gp::fit(&x, &y);
            for point in running {
                let (mean, std) = gp.predict(&point);
                x.push(point);
                y.push(mean + std);
            }
        }
        let gp = Gp::fit(&x, &y);
        Some(minimize_lcb(&gp, searched.len(), self.beta, &mut || {
            rng.random::<f64>()
        }))
    }
}

impl Default for BayesianOptimization {
    fn default() -> Self {
        BayesianOptimization::new()
    }
}

impl Oracle for BayesianOptimization {
    fn name(&self) -> &'static str {
        "bayesian_optimization"
    }

    fn propose(&self, context: &Context<'_>, rng: &mut StdRng) -> Result<Proposal, TuneError> {
        if context.trials.len() >= self.max_trials {
            return Ok(Proposal::Done);
        }
        let searched: Vec<&HyperParameter> =
            context.space.iter().filter(|h| h.is_searched()).collect();
        // As KerasTuner: 3 per hyperparameter (fixed ones too) of completed trials first.
        let initial = self
            .num_initial_points
            .unwrap_or((3 * context.space.len()).max(3));
        let completed = context
            .trials
            .iter()
            .filter(|t| t.completed_score().is_some());
        if completed.count() < initial {
            return Ok(new_random_values(context, rng));
        }
        let Some(point) = self.suggest(context, &searched, rng) else {
            return Ok(new_random_values(context, rng));
        };
        let mut values = Values::new();
        for hp in context.space {
            if !hp.is_active(&values) {
                continue;
            }
            let prob = searched
                .iter()
                .position(|s| s.name == hp.name)
                .and_then(|i| point.get(i));
            let value = prob.map_or_else(|| hp.default.clone(), |&p| hp.from_prob(p));
            values.insert(hp.name.clone(), value);
        }
        if is_new(context.space, &values, context.trials) {
            Ok(Proposal::Run(values))
        } else {
            Ok(new_random_values(context, rng))
        }
    }
}

/// The generator of trial `number` of a search seeded with `seed`.
pub(crate) fn trial_rng(seed: u64, number: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (number as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyperparameters::HyperParameters;
    use crate::value::Value;

    /// Runs `oracle` on `space` to the end (or `limit` trials), scoring each trial with
    /// `score` (minimised): the trials in order.
    fn run(
        oracle: &dyn Oracle,
        space: &[HyperParameter],
        score: &dyn Fn(&Values) -> f64,
        seed: u64,
        limit: usize,
    ) -> Vec<TrialRecord> {
        let objective = Objective::min("loss");
        let mut trials: Vec<TrialRecord> = Vec::new();
        while trials.len() < limit {
            let context = Context {
                space,
                trials: &trials,
                objective: &objective,
            };
            let Proposal::Run(values) = oracle
                .propose(&context, &mut trial_rng(seed, trials.len()))
                .unwrap()
            else {
                break;
            };
            let mut trial = TrialRecord::started(format!("{:04}", trials.len()), values, 0, None);
            trial.status = Status::Completed;
            trial.score = Some(score(&trial.values));
            trials.push(trial);
        }
        trials
    }

    fn space(build: impl Fn(&mut HyperParameters)) -> Vec<HyperParameter> {
        let mut hp = HyperParameters::new();
        build(&mut hp);
        hp.space().to_vec()
    }

    #[test]
    fn grid_search_gives_the_seeds_nine_combinations_in_keras_tuners_order() {
        let space = space(|hp| {
            hp.choice("units", [10, 50, 100]).value();
            hp.choice("layers", [3, 9, 27]).value();
        });
        let trials = run(&GridSearch::new(), &space, &|_| 0.0, 0, 100);
        let order: Vec<String> = trials.iter().map(|t| t.values.to_string()).collect();
        // keras_tuner 1.4.8's GridSearch on the same two Choices.
        let expected: Vec<String> = [10, 50, 100]
            .iter()
            .flat_map(|u| [3, 9, 27].map(|l| format!("units={u}, layers={l}")))
            .collect();
        assert_eq!(order, expected);
        assert_eq!(
            run(&GridSearch::new().max_trials(4), &space, &|_| 0.0, 0, 100).len(),
            4
        );
    }

    #[test]
    fn grid_search_skips_inactive_children_and_refuses_a_continuous_float() {
        let conditional = space(|hp| {
            hp.choice("model", ["mlp", "cnn"]).value();
            hp.conditional_scope("model", ["cnn"], |hp| hp.choice("filters", [8, 16]).value());
        });
        let trials = run(&GridSearch::new(), &conditional, &|_| 0.0, 0, 100);
        let order: Vec<String> = trials.iter().map(|t| t.values.to_string()).collect();
        assert_eq!(
            order,
            ["model=mlp", "model=cnn, filters=8", "model=cnn, filters=16"]
        );

        let continuous = space(|hp| {
            hp.float("dropout", 0.0, 0.5).value();
        });
        let objective = Objective::min("loss");
        let context = Context {
            space: &continuous,
            trials: &[],
            objective: &objective,
        };
        let error = GridSearch::new()
            .propose(&context, &mut trial_rng(0, 0))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "grid search needs a step for float `dropout`; give it one (`.step(..)`) or use another oracle"
        );
    }

    #[test]
    fn random_search_is_reproducible_distinct_and_stops_when_the_space_is_exhausted() {
        let space = space(|hp| {
            hp.int("units", 1, 4).value();
            hp.boolean("bn").value();
        });
        let a = run(
            &RandomSearch::new().max_trials(20),
            &space,
            &|_| 0.0,
            5,
            100,
        );
        let b = run(
            &RandomSearch::new().max_trials(20),
            &space,
            &|_| 0.0,
            5,
            100,
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 8, "4 × 2 combinations, each once");
        for (i, t) in a.iter().enumerate() {
            assert!(a[..i].iter().all(|u| !u.values.same_as(&t.values)));
        }
    }

    /// Branin on [-5, 10] × [0, 15]: minimum 0.397887.
    fn branin(v: &Values) -> f64 {
        let (Some(Value::Float(x)), Some(Value::Float(y))) = (v.get("x"), v.get("y")) else {
            unreachable!()
        };
        let (x, y) = (x * 15.0 - 5.0, y * 15.0);
        let b = 5.1 / (4.0 * std::f64::consts::PI.powi(2));
        let c = 5.0 / std::f64::consts::PI;
        (y - b * x * x + c * x - 6.0).powi(2)
            + 10.0 * (1.0 - 1.0 / (8.0 * std::f64::consts::PI)) * x.cos()
            + 10.0
    }

    /// Hartmann's 4-D function on [0, 1]^4 (Picheny et al.'s scaling): minimum −3.135.
    fn hartmann4(v: &Values) -> f64 {
        const A: [[f64; 4]; 4] = [
            [10.0, 3.0, 17.0, 3.5],
            [0.05, 10.0, 17.0, 0.1],
            [3.0, 3.5, 1.7, 10.0],
            [17.0, 8.0, 0.05, 10.0],
        ];
        const P: [[f64; 4]; 4] = [
            [0.1312, 0.1696, 0.5569, 0.0124],
            [0.2329, 0.4135, 0.8307, 0.3736],
            [0.2348, 0.1451, 0.3522, 0.2883],
            [0.4047, 0.8828, 0.8732, 0.5743],
        ];
        const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
        let x: Vec<f64> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| v.get(n).and_then(Value::as_f64).unwrap())
            .collect();
        let sum: f64 = (0..4)
            .map(|i| {
                ALPHA[i]
                    * (-(0..4)
                        .map(|j| A[i][j] * (x[j] - P[i][j]).powi(2))
                        .sum::<f64>())
                    .exp()
            })
            .sum();
        (1.1 - sum) / 0.839
    }

    fn median_best(
        oracle: &dyn Oracle,
        space: &[HyperParameter],
        f: &dyn Fn(&Values) -> f64,
    ) -> f64 {
        let mut bests: Vec<f64> = (0..20)
            .map(|seed| {
                run(oracle, space, f, seed, 30)
                    .iter()
                    .filter_map(|t| t.score)
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        bests.sort_by(f64::total_cmp);
        (bests[9] + bests[10]) / 2.0
    }

    #[test]
    fn bayesian_optimisation_beats_random_search_on_branin_and_hartmann() {
        let unit = |names: &[&str]| {
            space(|hp| {
                for n in names {
                    hp.float(n, 0.0, 1.0).value();
                }
            })
        };
        let bayes = BayesianOptimization::new().max_trials(30);
        let random = RandomSearch::new().max_trials(30);
        for (space, f, name) in [
            (unit(&["x", "y"]), branin as fn(&Values) -> f64, "Branin"),
            (unit(&["a", "b", "c", "d"]), hartmann4, "Hartmann-4"),
        ] {
            let (b, r) = (
                median_best(&bayes, &space, &f),
                median_best(&random, &space, &f),
            );
            println!(
                "{name}: median best over 20 seeds, 30 evaluations: Bayesian {b:.4}, random {r:.4}"
            );
            assert!(b < r, "{name}: Bayesian {b} is not below random {r}");
        }
    }
}
