//! Choosing the crossbars' engine by name (`--backend cpu|torch`): the CPU kernels, or the
//! LibTorch tensors of `xbar_torch` (CUDA when LibTorch sees a GPU, else the CPU). The one
//! place that knows both; `cim` sees only its `Backend` interface.

use nestevo_cim::{Backend, BackendError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// The CPU kernels (`nestevo-kernels`).
    #[default]
    Cpu,
    /// LibTorch tensors: CUDA device 0 when present, else the CPU (needs the `torch` feature).
    Torch,
}

impl std::str::FromStr for EngineKind {
    type Err = nestevo_core::error::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(EngineKind::Cpu),
            "torch" => Ok(EngineKind::Torch),
            _ => Err(nestevo_core::error::Invalid::new(
                "",
                "backend",
                s,
                "allowed: cpu, torch",
            )),
        }
    }
}

impl EngineKind {
    /// The engine, or a clear refusal where this build has no LibTorch.
    pub fn backend(self) -> Result<Backend, BackendError> {
        match self {
            EngineKind::Cpu => Ok(Backend::cpu()),
            #[cfg(feature = "torch")]
            EngineKind::Torch => Ok(nestevo_xbar_torch::TorchEngine::auto().backend()),
            #[cfg(not(feature = "torch"))]
            EngineKind::Torch => Err(BackendError::Unavailable {
                backend: "torch",
                msg: "this build has no LibTorch (built with --no-default-features); \
                      rebuild with the default feature `torch`, or use --backend cpu"
                    .into(),
            }),
        }
    }

    /// Where the engine computes: "cpu" or "cuda:0" (torch), for reports.
    pub fn device(self) -> String {
        match self {
            EngineKind::Cpu => "cpu".into(),
            #[cfg(feature = "torch")]
            EngineKind::Torch => match tch::Device::cuda_if_available() {
                tch::Device::Cuda(i) => format!("cuda:{i}"),
                _ => "cpu".into(),
            },
            #[cfg(not(feature = "torch"))]
            EngineKind::Torch => "none".into(),
        }
    }
}
