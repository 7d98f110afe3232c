//! The laws by name. A new law is one file and one line in `LAWS`.

use super::{CellLaw, DeviceError, LawSpec, Params};
use std::sync::Arc;

/// A law's entry: its name, what it does, its parameters, and its constructor.
pub struct LawInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// Its keys with units and defaults, as shown by `--help` and in errors.
    pub params: &'static str,
    pub build: fn(&Params) -> Result<Arc<dyn CellLaw>, DeviceError>,
}

pub const LAWS: &[LawInfo] = &[
    super::programming::INFO,
    super::read::INFO,
    super::stuck::INFO,
    super::drift::INFO,
    super::table::INFO,
];

/// The law `spec` names, its parameters validated; errors name the key, the value and what is
/// allowed (the caller adds where the law was written).
pub fn build(spec: &LawSpec) -> Result<Arc<dyn CellLaw>, DeviceError> {
    let Some(info) = LAWS.iter().find(|l| l.name == spec.name) else {
        let names: Vec<_> = LAWS.iter().map(|l| l.name).collect();
        return Err(DeviceError::new(
            "name",
            format!("\"{}\"", spec.name),
            format!("allowed: {}", names.join(", ")),
        ));
    };
    let p = Params::new(&spec.params);
    let law = (info.build)(&p).map_err(|e| DeviceError {
        allowed: format!("{} (law `{}`: {})", e.allowed, info.name, info.params),
        ..e
    })?;
    p.finish()?;
    Ok(law)
}

/// Every law of a list, in order; an error says which entry (`laws.1.off_rate`).
pub fn build_all(specs: &[LawSpec]) -> Result<Vec<Arc<dyn CellLaw>>, DeviceError> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| build(s).map_err(|e| e.within(&i.to_string())))
        .collect()
}
