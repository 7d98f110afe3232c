//! Choosing the crossbars' engine by name (`--backend cpu|torch[:OPTIONS]`): the CPU kernels,
//! or the LibTorch tensors of `xbar_torch` (CUDA when LibTorch sees a GPU, else the CPU), with
//! the analogue path's variants as options. The one place that knows both; `cim` sees only its
//! `Backend` interface.

use nestevo_cim::{Backend, BackendError};
use nestevo_core::error::Invalid;
use serde::{Serialize, Serializer};
use std::fmt;

const ALLOWED: &str = "allowed: cpu, torch, or torch: followed by a comma-separated list of \
                       bf16 (analogue products from bf16 parts: tensor cores on CUDA), \
                       epilogue (the analogue ADC in the f32 products' epilogue); or torch:f16 \
                       alone (products from f16 parts, codes rounded and stored as f16)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The CPU kernels (`nestevo-kernels`).
    #[default]
    Cpu,
    /// LibTorch tensors: CUDA device 0 when present, else the CPU (needs the `torch` feature).
    Torch(TorchOptions),
}

/// The torch engine's analogue variants (`TorchEngine::split_products`, `rounding_epilogue`,
/// `f16_products`); all off is the default path. Every variant computes the same law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TorchOptions {
    pub bf16: bool,
    pub epilogue: bool,
    /// Takes its own products and ADC: never with the other two.
    pub f16: bool,
}

impl std::str::FromStr for EngineKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Invalid::new("", "backend", s, ALLOWED);
        let lower = s.to_ascii_lowercase();
        let (name, opts) = match lower.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (lower.as_str(), None),
        };
        match (name, opts) {
            ("cpu", None) => Ok(EngineKind::Cpu),
            ("torch", None) => Ok(EngineKind::Torch(TorchOptions::default())),
            ("torch", Some(list)) => {
                let mut o = TorchOptions::default();
                for opt in list.split(',') {
                    match opt.trim() {
                        "bf16" => o.bf16 = true,
                        "epilogue" => o.epilogue = true,
                        "f16" => o.f16 = true,
                        _ => return Err(bad()),
                    }
                }
                if o.f16 && (o.bf16 || o.epilogue) {
                    return Err(bad());
                }
                Ok(EngineKind::Torch(o))
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineKind::Cpu => write!(f, "cpu"),
            EngineKind::Torch(o) => {
                let opts: Vec<&str> = [(o.bf16, "bf16"), (o.epilogue, "epilogue"), (o.f16, "f16")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| *n)
                    .collect();
                match opts.is_empty() {
                    true => write!(f, "torch"),
                    false => write!(f, "torch:{}", opts.join(",")),
                }
            }
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
            EngineKind::Torch(o) => Ok(nestevo_xbar_torch::TorchEngine::auto()
                .with_split_products(o.bf16)
                .with_rounding_epilogue(o.epilogue)
                .with_f16_products(o.f16)
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
        let torch = |bf16, epilogue, f16| {
            EngineKind::Torch(TorchOptions {
                bf16,
                epilogue,
                f16,
            })
        };
        assert_eq!(ok("cpu"), EngineKind::Cpu);
        assert_eq!(ok("Torch"), torch(false, false, false));
        assert_eq!(ok("torch:bf16"), torch(true, false, false));
        assert_eq!(ok("torch:epilogue, bf16"), torch(true, true, false));
        assert_eq!(ok("torch:f16"), torch(false, false, true));
        let all = [
            torch(false, false, false),
            torch(true, false, false),
            torch(false, true, false),
            torch(true, true, false),
            torch(false, false, true),
        ];
        for k in all {
            assert_eq!(ok(&k.to_string()), k, "{k}");
            assert_eq!(serde_json::to_value(k).unwrap(), k.to_string());
        }
        for bad in [
            "gpu",
            "cpu:bf16",
            "torch:",
            "torch:fp8",
            "torch:bf16,,epilogue",
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
}
