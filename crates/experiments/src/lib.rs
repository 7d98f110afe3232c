//! The paper's tables and figures, the benchmarks, every plot and every resumable results file:
//! what the library crates make possible, run as experiments. No library crate depends on this
//! one; the binary calls it. See `docs/architecture.md` for where a new experiment goes.
//!
//! Without LibTorch (feature `torch` off): the ADC sweep, the GPU-versus-CIM report's mapper
//! side, plots and resumable points files. With it: everything that trains or times LibTorch.

pub mod adc_sweep;
/// The chip under drift and stuck-at faults.
pub mod device_sweep;
pub mod error;
pub mod gpu_vs_cim;
pub mod plot;
pub mod points;
/// The renderer's speed per stream.
pub mod render_speed;
/// A harness's resumable JSON-lines results file.
pub mod rows;
pub mod sched_plot;
/// The scheduler's scenarios: every policy simulated on synthetic workloads.
pub mod sched_scenarios;

pub use error::{ExperimentError, Result};

/// Tables 2-3: aggregation loss of non-IID specialists and what the generator recovers.
#[cfg(feature = "torch")]
pub mod aggregation;
/// Table 4 and Fig. 11: every method on the same frames; one knob swept.
#[cfg(feature = "torch")]
pub mod compare;
/// Figs. 13-14 and Table 5: adaptive compression of the training jobs.
#[cfg(feature = "torch")]
pub mod compress_bench;
/// An evolution run with its figure (the per-terminal mAP over time).
#[cfg(feature = "torch")]
pub mod evolution;
#[cfg(feature = "torch")]
pub mod evolve_plot;
/// The global model as it is, with the statistics it keeps or re-estimated on source frames.
#[cfg(feature = "torch")]
pub mod global_bn;
/// The LibTorch side of the GPU-versus-CIM report (Table 6).
#[cfg(feature = "torch")]
pub mod infer_bench;
/// Table 3 inside the loop: the intermediates as averaged, against their average.
#[cfg(feature = "torch")]
pub mod loop_aggregation;
/// Fig. 8: the shipped global model against every terminal model.
#[cfg(feature = "torch")]
pub mod margin;
/// Fig. 15: noise-injected training against the chip's noise.
#[cfg(feature = "torch")]
pub mod noise_sweep;
/// Table 4 over independent replicates, as paired differences.
#[cfg(feature = "torch")]
pub mod replicates;
/// The scheduler's profile: real training runs, one process each, for its predictor.
#[cfg(feature = "torch")]
pub mod sched_profile;
/// Fig. 11 over independent replicates, as paired differences.
#[cfg(feature = "torch")]
pub mod sweep_replicates;
/// Per-class pseudo-box thresholds chosen on tuning seeds.
#[cfg(feature = "torch")]
pub mod thresholds;
/// Training speed of a description (steps per second).
#[cfg(feature = "torch")]
pub mod train_bench;
