//! Choosing the crossbars' engine by name (`--backend cpu|torch[:VARIANT]`): the CPU kernels,
//! or the LibTorch tensors of `xbar_torch` (CUDA when LibTorch sees a GPU, else the CPU), with
//! the analogue path's variant (`nestevo_cim::AnalogVariant`) as an option. The one place
//! that knows both; `cim` sees only its `Backend` interface.

use nestevo_cim::{AnalogVariant, Backend, BackendError};
use nestevo_core::error::Invalid;
use serde::{Serialize, Serializer};
use std::fmt;

const ALLOWED: &str = "allowed: cpu, torch, or torch: followed by one of bf16 (analogue \
                       products from bf16 parts: tensor cores on CUDA), epilogue (the analogue \
                       ADC in the f32 products' epilogue), f16 (products from f16 parts, codes \
                       rounded and stored as f16)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The CPU kernels (`nestevo-kernels`).
    #[default]
    Cpu,
    /// LibTorch tensors: CUDA device 0 when present, else the CPU (needs the `torch` feature),
    /// with its analogue path's variant (`F32` unless named). Every variant computes the same
    /// law.
    Torch(AnalogVariant),
}

impl std::str::FromStr for EngineKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Invalid::new("", "backend", s, ALLOWED);
        let lower = s.to_ascii_lowercase();
        match lower.split_once(':') {
            None if lower == "cpu" => Ok(EngineKind::Cpu),
            None if lower == "torch" => Ok(EngineKind::Torch(AnalogVariant::F32)),
            Some(("torch", opt)) => AnalogVariant::from_option(opt.trim())
                .map(EngineKind::Torch)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineKind::Cpu => write!(f, "cpu"),
            EngineKind::Torch(v) => match v.option() {
                None => write!(f, "torch"),
                Some(o) => write!(f, "torch:{o}"),
            },
        }
    }
}

/// As its name on the command line ("cpu", "torch", "torch:bf16", ...).
impl Serialize for EngineKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl EngineKind {
    /// The engine, or a clear refusal where this build has no LibTorch.
    pub fn backend(self) -> Result<Backend, BackendError> {
        match self {
            EngineKind::Cpu => Ok(Backend::cpu()),
            #[cfg(feature = "torch")]
            EngineKind::Torch(v) => Ok(nestevo_xbar_torch::TorchEngine::auto()
                .with_analog(v)
                .backend()),
            #[cfg(not(feature = "torch"))]
            EngineKind::Torch(_) => Err(BackendError::Unavailable {
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
            EngineKind::Torch(_) => match tch::Device::cuda_if_available() {
                tch::Device::Cuda(i) => format!("cuda:{i}"),
                _ => "cpu".into(),
            },
            #[cfg(not(feature = "torch"))]
            EngineKind::Torch(_) => "none".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_and_options() {
        let ok = |s: &str| s.parse::<EngineKind>().unwrap();
        assert_eq!(ok("cpu"), EngineKind::Cpu);
        assert_eq!(ok("Torch"), EngineKind::Torch(AnalogVariant::F32));
        assert_eq!(ok("torch:bf16"), EngineKind::Torch(AnalogVariant::Bf16));
        assert_eq!(
            ok("torch: epilogue"),
            EngineKind::Torch(AnalogVariant::Epilogue)
        );
        assert_eq!(ok("torch:F16"), EngineKind::Torch(AnalogVariant::F16));
        for v in AnalogVariant::ALL {
            let k = EngineKind::Torch(v);
            assert_eq!(ok(&k.to_string()), k, "{k}");
            assert_eq!(serde_json::to_value(k).unwrap(), k.to_string());
        }
        for bad in [
            "gpu",
            "cpu:bf16",
            "torch:",
            "torch:fp8",
            "torch:f32",
            "torch:bf16,epilogue",
            "torch:f16,bf16",
            "torch:epilogue,f16",
        ] {
            let e = bad.parse::<EngineKind>().unwrap_err().to_string();
            assert!(
                e.contains("backend") && e.contains(bad) && e.contains("epilogue"),
                "{bad}: {e}"
            );
        }
    }

    /// The engine reports the name `--backend` parses, for every variant.
    #[cfg(feature = "torch")]
    #[test]
    fn engine_names_are_the_parsed_ones() {
        for k in AnalogVariant::ALL.map(EngineKind::Torch) {
            assert_eq!(k.backend().unwrap().name(), k.to_string());
        }
        assert_eq!(EngineKind::Cpu.backend().unwrap().name(), "cpu");
    }
}
