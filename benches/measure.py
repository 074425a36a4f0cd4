"""How the peers' scripts time a training step: as kiln's bench times its own
(`Step::measure` in `benches/common/mod.rs`), so that every rate in a run is measured
the same way."""


def seconds_per_step(run, seconds):
    """Two probe steps, a warm-up of a fifth of `seconds`, then the median of five
    blocks of steps of 16% of it each. `run(n)` runs `n` steps and returns the
    `time.perf_counter()` at the start of each and after the last (`n + 1` stamps)."""
    stamps = run(2)
    probe = max((stamps[-1] - stamps[0]) / 2, 1e-4)

    def steps(share):
        return max(1, min(1000, int(seconds * share / probe)))

    warm, block = steps(0.2), steps(0.16)
    bounds = run(warm + 5 * block)[warm::block]
    return sorted(end - start for start, end in zip(bounds, bounds[1:]))[2] / block
