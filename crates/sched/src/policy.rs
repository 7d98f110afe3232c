//! The policies: which waiting jobs to start now, given the free memory.
//!
//! - `knapsack` (NestEvo, Algorithm 3): the 0/1 knapsack over the waiting jobs, weights their
//!   memory in integer units of `unit_mb` (rounded up; the free memory rounded down, so the
//!   chosen set never exceeds it), values `alpha / t_r`, solved exactly by dynamic programming
//!   over the free units (O(n W) time); re-run on every arrival and finish.
//! - `random` (B1): the waiting jobs in a seeded random order, each started if it fits.
//! - `fifo` (B2): first come first served, one job at a time.
//! - `spf`: shortest predicted time first, one job at a time.
//! - `fair` (Ekya-style fair share): jobs of the terminal served least so far first (then by
//!   arrival), each started if it fits, so every terminal gets its turn on the device.

use super::error::{Result, SchedError};
use super::job::Sized;
use nestevo_core::error::Invalid;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Knapsack,
    Random,
    Fifo,
    Spf,
    Fair,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::Knapsack,
        Policy::Random,
        Policy::Fifo,
        Policy::Spf,
        Policy::Fair,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Knapsack => "knapsack",
            Policy::Random => "random",
            Policy::Fifo => "fifo",
            Policy::Spf => "spf",
            Policy::Fair => "fair",
        }
    }

    /// At most one job on the device at a time.
    pub fn serial(self) -> bool {
        matches!(self, Policy::Fifo | Policy::Spf)
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Policy {
    type Err = SchedError;
    fn from_str(s: &str) -> Result<Self> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "",
                    "policy",
                    s,
                    "allowed are knapsack, random, fifo, spf, fair",
                )
                .into()
            })
    }
}

/// Integer memory units of the knapsack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Units {
    pub unit_mb: f64,
}

/// The most units the budget is cut into (the DP's table is jobs x units).
pub const MAX_UNITS: f64 = 4096.0;

impl Units {
    /// 1 MB units, coarser when the budget exceeds `MAX_UNITS` MB (then budget / 4096 MB).
    pub fn for_budget(budget_mb: f64) -> Units {
        Units {
            unit_mb: (budget_mb / MAX_UNITS).max(1.0),
        }
    }

    /// A job's weight: its memory rounded up.
    pub fn weight(&self, mb: f64) -> usize {
        (mb / self.unit_mb - 1e-9).ceil().max(0.0) as usize
    }

    /// A capacity: free memory rounded down.
    pub fn capacity(&self, mb: f64) -> usize {
        (mb / self.unit_mb + 1e-9).floor().max(0.0) as usize
    }
}

/// Checks the budget and that every job fits it alone.
pub fn validate(jobs: &[Sized], budget_mb: f64) -> Result<Units> {
    if !(budget_mb.is_finite() && budget_mb > 0.0) {
        return Err(Invalid::new("", "memory_mb", budget_mb, "a memory budget above 0 MB").into());
    }
    let u = Units::for_budget(budget_mb);
    for j in jobs {
        if u.weight(j.memory_mb) > u.capacity(budget_mb) {
            return Err(SchedError::Invalid(format!(
                "job `{}` needs {:.1} MB alone, over the budget of {budget_mb:.1} MB \
                 (in {:.3} MB units): it can never run; raise the budget or shrink the job",
                j.id, j.memory_mb, u.unit_mb
            )));
        }
        if !(j.seconds.is_finite() && j.seconds > 0.0) {
            return Err(Invalid::new(
                "",
                format!("job `{}`.seconds", j.id),
                j.seconds,
                "a time above 0 s",
            )
            .into());
        }
    }
    Ok(u)
}

/// The exact 0/1 knapsack: indices (ascending) of `items` (weight, value) maximising the value
/// within `capacity`.
pub fn knapsack(items: &[(usize, f64)], capacity: usize) -> Vec<usize> {
    let n = items.len();
    let w1 = capacity + 1;
    let mut best = vec![0.0f64; w1];
    let mut keep = vec![false; n * w1];
    for (i, &(w, v)) in items.iter().enumerate() {
        if w > capacity {
            continue;
        }
        for c in (w..=capacity).rev() {
            let cand = best[c - w] + v;
            if cand > best[c] {
                best[c] = cand;
                keep[i * w1 + c] = true;
            }
        }
    }
    let mut c = capacity;
    let mut chosen = Vec::new();
    for i in (0..n).rev() {
        if keep[i * w1 + c] {
            chosen.push(i);
            c -= items[i].0;
        }
    }
    chosen.reverse();
    chosen
}

/// What a policy sees at a decision.
pub struct State<'a> {
    /// Waiting jobs, in arrival order.
    pub waiting: &'a [&'a Sized],
    pub free_mb: f64,
    pub running: usize,
    /// Seconds of device time each terminal's jobs have had (finished and started).
    pub served: &'a HashMap<String, f64>,
}

/// Indices into `s.waiting` of the jobs to start now; their memory never exceeds `s.free_mb`.
pub fn choose(policy: Policy, s: &State<'_>, units: Units, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let greedy = |order: Vec<usize>| {
        let mut free = s.free_mb;
        let mut out = Vec::new();
        for i in order {
            let m = s.waiting[i].memory_mb;
            if m <= free {
                free -= m;
                out.push(i);
            }
        }
        out
    };
    match policy {
        Policy::Knapsack => {
            let items: Vec<(usize, f64)> = s
                .waiting
                .iter()
                .map(|j| (units.weight(j.memory_mb), j.alpha / j.seconds))
                .collect();
            knapsack(&items, units.capacity(s.free_mb))
        }
        Policy::Random => {
            let mut order: Vec<usize> = (0..s.waiting.len()).collect();
            order.shuffle(rng);
            greedy(order)
        }
        Policy::Fifo | Policy::Spf if s.running > 0 || s.waiting.is_empty() => Vec::new(),
        Policy::Fifo => greedy(vec![0]),
        Policy::Spf => {
            let i = (0..s.waiting.len())
                .min_by(|&a, &b| s.waiting[a].seconds.total_cmp(&s.waiting[b].seconds))
                .expect("non-empty");
            greedy(vec![i])
        }
        Policy::Fair => {
            let mut order: Vec<usize> = (0..s.waiting.len()).collect();
            let served = |i: usize| s.served.get(&s.waiting[i].terminal).copied().unwrap_or(0.0);
            order.sort_by(|&a, &b| served(a).total_cmp(&served(b)).then(a.cmp(&b)));
            greedy(order)
        }
    }
}

/// One decision over jobs all waiting: what a policy starts on an idle device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub policy: Policy,
    /// Ids of the jobs started, in arrival order (ties in the file's order).
    pub chosen: Vec<String>,
    /// Sum of alpha / t_r of the chosen jobs (1/s).
    pub value: f64,
    /// Their memory together (MB).
    pub memory_mb: f64,
    pub budget_mb: f64,
    /// The knapsack's memory unit (MB).
    pub unit_mb: f64,
}

/// The policy's choice among `jobs` (sorted by arrival, then as given) on an idle device.
pub fn plan(policy: Policy, jobs: &[Sized], budget_mb: f64, seed: u64) -> Result<Plan> {
    use rand::SeedableRng;
    let units = validate(jobs, budget_mb)?;
    let mut order: Vec<&Sized> = jobs.iter().collect();
    order.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    let served = HashMap::new();
    let state = State {
        waiting: &order,
        free_mb: budget_mb,
        running: 0,
        served: &served,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = choose(policy, &state, units, &mut rng);
    idx.sort_unstable();
    let chosen: Vec<&Sized> = idx.iter().map(|&i| order[i]).collect();
    Ok(Plan {
        policy,
        chosen: chosen.iter().map(|j| j.id.clone()).collect(),
        value: chosen.iter().map(|j| j.alpha / j.seconds).sum(),
        memory_mb: chosen.iter().map(|j| j.memory_mb).sum(),
        budget_mb,
        unit_mb: units.unit_mb,
    })
}
