//! The methods a run can follow (Table 4 and its ablations), and what each does in a window
//! given the drift rule's decision (Eq. 13).
//!
//! | method | every window |
//! |---|---|
//! | `nestevo` | the rule: distillation from the current global model, or co-evolution (Algorithm 2) |
//! | `a1` | adversarial domain adaptation: labelled source frames against the terminal's unlabelled uploads |
//! | `a2` | the rule, co-evolution without the generator |
//! | `a3` | nothing: the deployed models stay |
//! | `a4` | distillation from the original global model |
//! | `always-kd` | distillation from the current global model, whatever the rule says |
//! | `always-coevolve` | co-evolution with the generator, whatever the rule says |
//!
//! Without co-evolution the global model never changes, so `always-kd` and `a4` do the same
//! thing; both names are kept because the paper names both.

use super::drift::Decision;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Nestevo,
    A1,
    A2,
    A3,
    A4,
    AlwaysKd,
    AlwaysCoevolve,
}

/// What a window does for its terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The deployed models stay.
    None,
    /// The current global model teaches each terminal on its uploads.
    Distill,
    /// The original global model (before any co-evolution) teaches.
    DistillOriginal,
    /// Algorithm 2; `generator: false` is A2.
    CoEvolve { generator: bool },
    /// A1: gradient-reversal domain adaptation.
    Adapt,
}

impl Action {
    /// A short name for tables and CSV.
    pub fn name(&self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Distill => "distill",
            Action::DistillOriginal => "distill-original",
            Action::CoEvolve { generator: true } => "co-evolve",
            Action::CoEvolve { generator: false } => "co-evolve-no-gen",
            Action::Adapt => "adapt",
        }
    }
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Nestevo,
        Method::A1,
        Method::A2,
        Method::A3,
        Method::A4,
        Method::AlwaysKd,
        Method::AlwaysCoevolve,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Method::Nestevo => "nestevo",
            Method::A1 => "a1",
            Method::A2 => "a2",
            Method::A3 => "a3",
            Method::A4 => "a4",
            Method::AlwaysKd => "always-kd",
            Method::AlwaysCoevolve => "always-coevolve",
        }
    }

    /// This method's action in a window whose rule says `decision`.
    pub fn action(&self, decision: Decision) -> Action {
        match (self, decision) {
            (Method::Nestevo, Decision::DistillOnly) | (Method::A2, Decision::DistillOnly) => {
                Action::Distill
            }
            (Method::Nestevo, Decision::CoEvolve) => Action::CoEvolve { generator: true },
            (Method::A2, Decision::CoEvolve) => Action::CoEvolve { generator: false },
            (Method::A1, _) => Action::Adapt,
            (Method::A3, _) => Action::None,
            (Method::A4, _) => Action::DistillOriginal,
            (Method::AlwaysKd, _) => Action::Distill,
            (Method::AlwaysCoevolve, _) => Action::CoEvolve { generator: true },
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Method::ALL.iter().map(|m| m.name()).collect();
                format!("method `{s}`: allowed: {}", names.join(", "))
            })
    }
}
