//! `--backend cpu|torch`: the engine of the crossbars, for every command that runs them.

use crate::cim::Backend;
use crate::engines::EngineKind;
use clap::Args;

#[derive(Args, Clone)]
pub struct BackendArg {
    /// Engine of the crossbars: the CPU kernels, or LibTorch tensors (CUDA when present, else
    /// the CPU); both compute the same products and counts.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: EngineKind,
}

impl BackendArg {
    pub fn get(&self) -> anyhow::Result<Backend> {
        Ok(self.backend.backend()?)
    }
}
