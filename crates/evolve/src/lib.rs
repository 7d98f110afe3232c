//! The co-evolution system (SPEC section 4, the paper's sections 4-5): the experiment file
//! (`config`), the drift statistic of Eq. 11-13 (`drift`), FedAvg weighted by frame counts
//! (`fedavg`), the life-cycle performance of Eq. 6-8 (`lcp`), the methods (`method`) and, with
//! LibTorch (feature `torch`), the Eq. 14-15 mutual-learning losses (`mutual`), the
//! label-conditioned generator (`generator`), the global model behind the labelling interface
//! (`labeller`, `cim_labeller`), distillation, co-evolution and A1 (`distill`, `coevolve`,
//! `adapt`), the edge with one window strategy per action (`edge`), the in-process window loop
//! (`run`), and the scheduler's job runners and live executor (`jobs`, `executor`). The tables
//! and figures made with it live in `nestevo-experiments`.
//! See `docs/evolution.md`.

pub mod compress;
pub mod config;
pub mod drift;
pub mod error;
pub mod fedavg;
pub mod lcp;
pub mod method;
pub mod schedule;
pub mod uploads;

#[cfg(feature = "torch")]
pub mod adapt;
#[cfg(feature = "torch")]
pub mod cim_labeller;
#[cfg(feature = "torch")]
pub mod coevolve;
#[cfg(feature = "torch")]
pub mod distill;
#[cfg(feature = "torch")]
pub mod edge;
#[cfg(feature = "torch")]
pub mod executor;
#[cfg(feature = "torch")]
pub mod feature_term;
#[cfg(feature = "torch")]
pub mod generator;
#[cfg(feature = "torch")]
pub mod jobs;
#[cfg(feature = "torch")]
pub mod labeller;
#[cfg(feature = "torch")]
pub mod mutual;
#[cfg(feature = "torch")]
pub mod run;

pub use error::{ConfigError, EvolveError};
