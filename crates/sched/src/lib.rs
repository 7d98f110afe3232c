//! The evolution job scheduler (SPEC 4 "Scheduler", the paper's Sections 6.1 and 7.3.1):
//! which training jobs of the evolution loop share the device, so that the mean
//! evolution latency (wait + training) falls without ever running out of memory. No LibTorch
//! here: the real job runners live in `evolve::jobs`.
//!
//! - `job`: jobs and jobs files; `memory`: `M = P b + 2 B A b + 2 P b + workspace`;
//! - `predict`: the 3-layer MLP time predictor on ndarray and the MACs baseline;
//! - `policy`: knapsack (Algorithm 3), random (B1), fifo (B2), spf, fair; one plan;
//! - `sim`: the discrete-event simulator (arrivals, finishes, processor sharing);
//! - `profile`: profiled real runs, the held-out split and the fit report;
//! - `workload`: sizing jobs and the synthetic evolution scenarios; `plot`: the scaling PNG.
//!
//! The API for the evolution loop: `size` the jobs, then `plan(policy, &jobs, budget, seed)`
//! for one decision or `simulate(policy, &jobs, &Device, seed)` for every job's start and end
//! (its `t_w = start - arrival`, `t_r = end - start`), and `terminal_times` for each
//! terminal's `t_w` and `t_r` of Eq. 6-8 over its jobs. See docs/scheduler.md.

pub mod error;
pub mod job;
pub mod memory;
pub mod policy;
pub mod predict;
pub mod profile;
pub mod sim;
pub mod workload;

pub use error::SchedError;
pub use job::{load_jobs, parse_jobs, Job, JobKind, Sized, Work};
pub use memory::{MemoryBreakdown, MemoryModel};
pub use policy::{plan, Plan, Policy};
pub use predict::{Baseline, Mlp, TimeModel};
pub use sim::{mean_latency, simulate, terminal_times, Device, JobTimes, TerminalTimes};
pub use workload::size;
