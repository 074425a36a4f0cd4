//! Hyperband, as KerasTuner runs it: brackets of random trials trained for a few epochs,
//! the best of each round continued for `factor` times more, the most aggressive bracket
//! first. Like the other oracles, a pure function of the trials so far.

use rand::rngs::StdRng;

use crate::error::TuneError;
use crate::num::{as_f64, to_index};
use crate::oracle::{Context, Oracle, Proposal, is_new, random_values};
use crate::trial::{Budget, Status, TrialRecord};

/// KerasTuner's `Hyperband`: `max_epochs` (100) the most a trial trains, `factor` (3)
/// the reduction from round to round, `hyperband_iterations` (1) passes over the
/// brackets. A trial's `Fit` gets the epochs of its round (`tuner/epochs`), and a
/// continued trial starts from its parent's best weights at its parent's last epoch.
///
/// ```
/// use kiln_tune::Hyperband;
/// let hyperband = Hyperband::new().max_epochs(9).factor(3);
/// // Bracket 2: 9 trials of 1 epoch, the best 3 to 3 epochs, the best 1 to 9.
/// assert_eq!(hyperband.rounds(2), [(9, 1), (3, 3), (1, 9)]);
/// assert_eq!(hyperband.brackets(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct Hyperband {
    max_epochs: usize,
    factor: usize,
    iterations: usize,
}

impl Hyperband {
    /// Keras's defaults: 100 epochs at most, factor 3, one iteration.
    pub fn new() -> Self {
        Hyperband {
            max_epochs: 100,
            factor: 3,
            iterations: 1,
        }
    }

    /// The most epochs a trial trains.
    pub fn max_epochs(mut self, epochs: usize) -> Self {
        self.max_epochs = epochs.max(1);
        self
    }

    /// How many times fewer trials each round keeps (and more epochs it trains).
    pub fn factor(mut self, factor: usize) -> Self {
        self.factor = factor.max(2);
        self
    }

    /// How many times to run all the brackets.
    pub fn hyperband_iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations.max(1);
        self
    }

    /// How many brackets there are (KerasTuner's `_get_num_brackets`).
    pub fn brackets(&self) -> usize {
        let mut epochs = as_f64(self.max_epochs);
        let mut brackets = 0;
        while epochs >= 1.0 {
            epochs /= as_f64(self.factor);
            brackets += 1;
        }
        brackets
    }

    /// Bracket `bracket`'s rounds: how many trials each has, and the epoch each trains
    /// to (KerasTuner's `_get_size` and `_get_epochs`).
    pub fn rounds(&self, bracket: usize) -> Vec<(usize, usize)> {
        let (max, factor) = (as_f64(self.max_epochs), as_f64(self.factor));
        // Python's math.log(x, base): ln x / ln base, rounding error included.
        let end_size = (1.0 + max.ln() / factor.ln()).ceil() / as_f64(bracket + 1);
        (0..=bracket)
            .map(|round| {
                let scale = factor.powi(i32::try_from(bracket - round).unwrap_or(i32::MAX));
                (
                    to_index((end_size * scale).ceil()),
                    to_index((max / scale).ceil()),
                )
            })
            .collect()
    }

    /// What bracket `bracket` of `iteration` needs next, given the trials so far.
    fn next_in(
        &self,
        context: &Context<'_>,
        iteration: usize,
        bracket: usize,
        rng: &mut StdRng,
    ) -> Step {
        let rounds = self.rounds(bracket);
        let in_round = |round: usize| -> Vec<&TrialRecord> {
            context
                .trials
                .iter()
                .filter(|t| {
                    t.budget.as_ref().is_some_and(|b| {
                        (b.iteration, b.bracket, b.round) == (iteration, bracket, round)
                    })
                })
                .collect()
        };
        let budget = |round: usize, parent: Option<String>| Budget {
            epochs: rounds.get(round).map_or(self.max_epochs, |r| r.1),
            initial_epoch: round
                .checked_sub(1)
                .and_then(|r| rounds.get(r))
                .map_or(0, |r| r.1),
            iteration,
            bracket,
            round,
            parent,
        };
        for (round, &(size, _)) in rounds.iter().enumerate() {
            let trials = in_round(round);
            if trials.len() >= size {
                continue;
            }
            if round == 0 {
                let values = (0..100)
                    .map(|_| random_values(context.space, rng))
                    .find(|v| is_new(context.space, v, context.trials));
                return values.map_or(Step::Exhausted, |v| Step::Run(v, budget(0, None)));
            }
            let previous = in_round(round - 1);
            let mut candidates: Vec<&TrialRecord> = previous
                .iter()
                .copied()
                .filter(|p| p.completed_score().is_some())
                .filter(|p| {
                    !trials
                        .iter()
                        .any(|t| t.budget.as_ref().and_then(|b| b.parent.as_ref()) == Some(&p.id))
                })
                .collect();
            candidates.sort_by(|a, b| {
                let loss = |t: &TrialRecord| context.objective.as_loss(t.score.unwrap_or(0.0));
                loss(a).total_cmp(&loss(b))
            });
            let past_size = rounds.get(round - 1).map_or(0, |r| r.0);
            let running = previous.iter().any(|p| p.status == Status::Running);
            // KerasTuner promotes once enough of the last round is done to know its best;
            // kiln also promotes what it can when nothing more will finish (failed trials).
            if candidates.len() + size > past_size || (!running && !candidates.is_empty()) {
                let best = candidates[0];
                return Step::Run(best.values.clone(), budget(round, Some(best.id.clone())));
            }
            if running {
                return Step::Waiting;
            }
        }
        Step::Complete
    }
}

/// Where a bracket stands.
enum Step {
    Run(crate::Values, Budget),
    Waiting,
    Complete,
    Exhausted,
}

impl Default for Hyperband {
    fn default() -> Self {
        Hyperband::new()
    }
}

impl Oracle for Hyperband {
    fn name(&self) -> &'static str {
        "hyperband"
    }

    fn propose(&self, context: &Context<'_>, rng: &mut StdRng) -> Result<Proposal, TuneError> {
        let mut waiting = false;
        for iteration in 0..self.iterations {
            for bracket in (0..self.brackets()).rev() {
                match self.next_in(context, iteration, bracket, rng) {
                    Step::Run(values, budget) => return Ok(Proposal::RunFor(values, budget)),
                    Step::Waiting => waiting = true,
                    Step::Complete => {}
                    Step::Exhausted => {
                        return Ok(if waiting {
                            Proposal::Wait
                        } else {
                            Proposal::Done
                        });
                    }
                }
            }
        }
        Ok(if waiting {
            Proposal::Wait
        } else {
            Proposal::Done
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::hyperparameters::HyperParameters;
    use crate::oracle::trial_rng;
    use crate::trial::Objective;
    use crate::value::Value;

    // keras_tuner 1.4.8's HyperbandOracle(max_epochs, factor=3): `_get_size(b, r)` and
    // `_get_epochs(b, r)` for every bracket b (most aggressive first) and round r.
    #[test]
    fn brackets_have_keras_tuners_sizes_and_epochs() {
        let table = |max_epochs| {
            let hyperband = Hyperband::new().max_epochs(max_epochs);
            (0..hyperband.brackets())
                .rev()
                .map(|b| hyperband.rounds(b))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            table(9),
            [
                vec![(9, 1), (3, 3), (1, 9)],
                vec![(5, 3), (2, 9)],
                vec![(3, 9)]
            ]
        );
        assert_eq!(
            table(27),
            [
                vec![(27, 1), (9, 3), (3, 9), (1, 27)],
                vec![(12, 3), (4, 9), (2, 27)],
                vec![(6, 9), (2, 27)],
                vec![(4, 27)],
            ]
        );
        assert_eq!(
            table(81),
            [
                vec![(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
                vec![(34, 3), (12, 9), (4, 27), (2, 81)],
                vec![(15, 9), (5, 27), (2, 81)],
                vec![(8, 27), (3, 81)],
                vec![(5, 81)],
            ]
        );
        assert_eq!(
            table(100),
            [
                vec![(98, 2), (33, 4), (11, 12), (4, 34), (2, 100)],
                vec![(41, 4), (14, 12), (5, 34), (2, 100)],
                vec![(18, 12), (6, 34), (2, 100)],
                vec![(9, 34), (3, 100)],
                vec![(6, 100)],
            ]
        );
        // math.log(243, 3) is 4.999999999999999 in Python: six brackets' end size, not 5.
        assert_eq!(Hyperband::new().max_epochs(243).rounds(4)[0], (98, 3));
    }

    /// Runs Hyperband sequentially to the end, each trial scoring its `x` (minimised).
    fn simulate(hyperband: &Hyperband) -> Vec<TrialRecord> {
        let mut hp = HyperParameters::new();
        hp.float("x", 0.0, 1.0).value();
        let objective = Objective::min("val_loss");
        let mut trials: Vec<TrialRecord> = Vec::new();
        loop {
            let context = Context {
                space: hp.space(),
                trials: &trials,
                objective: &objective,
            };
            match hyperband
                .propose(&context, &mut trial_rng(1, trials.len()))
                .unwrap()
            {
                Proposal::RunFor(values, budget) => {
                    let mut t = TrialRecord::started(
                        format!("{:04}", trials.len()),
                        values,
                        0,
                        Some(budget),
                    );
                    t.status = Status::Completed;
                    t.score = t.values.get("x").and_then(Value::as_f64);
                    trials.push(t);
                }
                Proposal::Done => return trials,
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_sequential_search_runs_keras_tuners_trials_and_promotes_the_best() {
        let trials = simulate(&Hyperband::new().max_epochs(27));
        let mut counts: BTreeMap<(usize, usize, usize, usize), usize> = BTreeMap::new();
        for t in &trials {
            let b = t.budget.as_ref().unwrap();
            *counts
                .entry((b.bracket, b.round, b.initial_epoch, b.epochs))
                .or_default() += 1;
        }
        // keras_tuner 1.4.8's sequential run of the same search: 70 trials.
        let keras = [
            ((3, 0, 0, 1), 27),
            ((3, 1, 1, 3), 9),
            ((3, 2, 3, 9), 3),
            ((3, 3, 9, 27), 1),
            ((2, 0, 0, 3), 12),
            ((2, 1, 3, 9), 4),
            ((2, 2, 9, 27), 2),
            ((1, 0, 0, 9), 6),
            ((1, 1, 9, 27), 2),
            ((0, 0, 0, 27), 4),
        ];
        assert_eq!(counts, keras.into_iter().collect());
        assert_eq!(trials.len(), 70);
        // Round 1 of the first bracket continues the 9 best of its 27, each once.
        let round = |r: usize| {
            trials.iter().filter(move |t| {
                t.budget
                    .as_ref()
                    .is_some_and(|b| b.bracket == 3 && b.round == r)
            })
        };
        let mut first: Vec<&TrialRecord> = round(0).collect();
        first.sort_by(|a, b| a.score.unwrap().total_cmp(&b.score.unwrap()));
        let best: Vec<&str> = first[..9].iter().map(|t| t.id.as_str()).collect();
        let promoted: Vec<&str> = round(1)
            .map(|t| t.budget.as_ref().unwrap().parent.as_deref().unwrap())
            .collect();
        assert_eq!(promoted, best, "the best first");
        assert!(round(1).all(|t| trials.iter().any(|p| Some(&p.id)
            == t.budget.as_ref().unwrap().parent.as_ref()
            && p.values == t.values)));
        assert_eq!(
            simulate(&Hyperband::new().max_epochs(9).hyperband_iterations(2)).len(),
            46
        );
    }
}
