//! Event counts measured by a run: the kernels count them as they do the work (definitions in
//! `nestevo_kernels::Counts` and docs/simulator.md).

pub use nestevo_kernels::Counts as LayerStats;
