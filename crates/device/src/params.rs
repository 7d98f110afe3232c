//! A law as it is written: a name and its parameters, in the accelerator description
//! (`[[device.laws]]`, `name = "drift"`, `time_s = 3600`) or on the command line
//! (`--law drift:time_s=3600,compensate=true`). Each law reads its own keys through [`Params`],
//! which refuses a key the law does not know and a value outside its range.

use super::DeviceError;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A parameter value: a number, a switch or a text (a file name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Num(f64),
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(x) => write!(f, "{x}"),
            Value::Text(s) => write!(f, "\"{s}\""),
        }
    }
}

/// One law: its name and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LawSpec {
    pub name: String,
    #[serde(flatten)]
    pub params: BTreeMap<String, Value>,
}

impl std::str::FromStr for LawSpec {
    type Err = DeviceError;
    /// `name` or `name:key=value,key=value`; a value is read as true/false, a number, or text.
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        let (name, rest) = s.split_once(':').unwrap_or((s, ""));
        let name = name.trim();
        if name.is_empty() {
            return Err(DeviceError::new(
                "law",
                format!("\"{s}\""),
                "a law is written name or name:key=value,key=value",
            ));
        }
        let mut params = BTreeMap::new();
        for kv in rest.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(DeviceError::new(
                    name,
                    format!("\"{kv}\""),
                    "a parameter is written key=value",
                ));
            };
            let v = v.trim();
            let value = match v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => match v.parse::<f64>() {
                    Ok(x) => Value::Num(x),
                    Err(_) => Value::Text(v.trim_matches('"').to_string()),
                },
            };
            if params.insert(k.trim().to_string(), value).is_some() {
                // A TOML table refuses a repeated key; so does the flag.
                return Err(DeviceError::new(
                    name,
                    format!("\"{s}\""),
                    format!("each parameter once (`{}` is given twice)", k.trim()),
                ));
            }
        }
        Ok(LawSpec {
            name: name.to_string(),
            params,
        })
    }
}

impl fmt::Display for LawSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        for (i, (k, v)) in self.params.iter().enumerate() {
            let sep = if i == 0 { ':' } else { ',' };
            match v {
                Value::Text(s) => write!(f, "{sep}{k}={s}")?,
                _ => write!(f, "{sep}{k}={v}")?,
            }
        }
        Ok(())
    }
}

/// A law's parameters as its constructor reads them. Every key must be read: `finish` refuses
/// the ones no getter asked for, naming those that exist.
pub struct Params<'a> {
    map: &'a BTreeMap<String, Value>,
    asked: RefCell<BTreeSet<&'static str>>,
}

impl<'a> Params<'a> {
    pub fn new(map: &'a BTreeMap<String, Value>) -> Self {
        Params {
            map,
            asked: RefCell::new(BTreeSet::new()),
        }
    }

    /// A number in `lo..=hi`, or `default` when absent (`None`: required).
    pub fn num(
        &self,
        key: &'static str,
        default: Option<f64>,
        lo: f64,
        hi: f64,
    ) -> Result<f64, DeviceError> {
        self.asked.borrow_mut().insert(key);
        let allowed = || match (lo == f64::MIN_POSITIVE, hi.is_infinite()) {
            (true, true) => "allowed: a number > 0".to_string(),
            (false, true) => format!("allowed: a number >= {lo}"),
            _ => format!("allowed: a number from {lo} to {hi}"),
        };
        match (self.map.get(key), default) {
            (Some(Value::Num(x)), _) if x.is_finite() && (lo..=hi).contains(x) => Ok(*x),
            (Some(v), _) => Err(DeviceError::new(key, v, allowed())),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(DeviceError::new(
                key,
                "(missing)",
                format!("required; {}", allowed()),
            )),
        }
    }

    /// A switch, `default` when absent.
    pub fn flag(&self, key: &'static str, default: bool) -> Result<bool, DeviceError> {
        self.asked.borrow_mut().insert(key);
        match self.map.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(DeviceError::new(key, v, "allowed: true or false")),
            None => Ok(default),
        }
    }

    /// A required text (a file name).
    pub fn text(&self, key: &'static str) -> Result<&'a str, DeviceError> {
        self.asked.borrow_mut().insert(key);
        match self.map.get(key) {
            Some(Value::Text(s)) if !s.is_empty() => Ok(s),
            Some(v) => Err(DeviceError::new(key, v, "allowed: a non-empty text")),
            None => Err(DeviceError::new(key, "(missing)", "required: a text")),
        }
    }

    /// Refuses any key no getter read.
    pub fn finish(&self) -> Result<(), DeviceError> {
        let asked = self.asked.borrow();
        if let Some((k, v)) = self.map.iter().find(|(k, _)| !asked.contains(k.as_str())) {
            let keys: Vec<_> = asked.iter().copied().collect();
            return Err(DeviceError::new(
                k.as_str(),
                v,
                format!("no such parameter; this law takes: {}", keys.join(", ")),
            ));
        }
        Ok(())
    }
}
