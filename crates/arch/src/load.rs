//! Reading descriptions: from a file, from a shipped preset, with `--set` overrides.

use super::{validate::validate, ArchError, ArchSpec};
use std::path::Path;

/// Presets compiled into the binary: `--arch isaac` works without the `arch/` folder.
pub const PRESETS: &[(&str, &str)] = &[
    ("isaac", include_str!("../../../arch/isaac.toml")),
    (
        "isaac-noflip-9bit",
        include_str!("../../../arch/isaac-noflip-9bit.toml"),
    ),
    (
        "xbar256-1bit",
        include_str!("../../../arch/xbar256-1bit.toml"),
    ),
];

/// A preset by name (`isaac`, ...), validated.
pub fn preset(name: &str) -> Result<ArchSpec, ArchError> {
    let text = PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
            ArchError::new(
                name,
                "",
                "",
                format!("no such preset; presets: {}", names.join(", ")),
            )
        })?;
    parse_arch(text, &format!("preset `{name}`"))
}

/// Reads an accelerator description. `path` may also name a preset (`isaac`) when no such
/// file exists.
pub fn load_arch(path: &Path) -> Result<ArchSpec, ArchError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_arch(&text, &shown),
        Err(e) => {
            if let Some(name) = path.to_str() {
                if PRESETS.iter().any(|(n, _)| *n == name) {
                    return preset(name);
                }
            }
            Err(ArchError::new(
                shown,
                "",
                "",
                format!("cannot read the accelerator description: {e}"),
            ))
        }
    }
}

/// Parses and validates TOML text; `source` names it in errors.
pub fn parse_arch(text: &str, source: &str) -> Result<ArchSpec, ArchError> {
    let spec: ArchSpec = toml::from_str(text).map_err(|e| toml_error(source, text, &e))?;
    validate(&spec, source)?;
    Ok(spec)
}

fn toml_error(source: &str, text: &str, e: &toml::de::Error) -> ArchError {
    let msg = e.message().trim().to_string();
    // A wrongly typed value: name its `section.key` and value from the line the span points at.
    if let Some(span) = e.span() {
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = text[start..]
            .find('\n')
            .map(|i| start + i)
            .unwrap_or(text.len());
        let line_no = text[..start].matches('\n').count() + 1;
        let line = &text[line_start..line_end];
        if let Some((key, value)) = line.split_once('=') {
            let section = text[..line_start]
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix('[').and_then(|r| r.split(']').next()))
                .map(|s| format!("{}.", s.trim()))
                .unwrap_or_default();
            let value = value.split('#').next().unwrap_or("").trim();
            return ArchError::new(
                source,
                format!("{section}{}", key.trim()),
                value,
                format!("{msg} (line {line_no})"),
            );
        }
        return ArchError::new(source, "", "", format!("{msg} (line {line_no})"));
    }
    ArchError::new(source, "", "", msg)
}

/// Applies `section.key=value` overrides in order, then validates the result.
pub fn apply_overrides(
    spec: &ArchSpec,
    sets: &[String],
    source: &str,
) -> Result<ArchSpec, ArchError> {
    let mut spec = spec.clone();
    for s in sets {
        spec = apply_override(&spec, s, source)?;
    }
    validate(&spec, source)?;
    Ok(spec)
}

/// One `section.key=value` override. The key must exist; the value is read as TOML
/// (integer, float, bool), falling back to a string.
pub fn apply_override(spec: &ArchSpec, set: &str, source: &str) -> Result<ArchSpec, ArchError> {
    let origin = format!("{source} (--set {set})");
    let (key, raw) = set.split_once('=').ok_or_else(|| {
        ArchError::new(
            &origin,
            "",
            "",
            "an override has the form section.key=value",
        )
    })?;
    let key = key.trim();
    let raw = raw.trim();
    let mut root = toml::Value::try_from(spec)
        .map_err(|e| ArchError::new(&origin, key, raw, e.to_string()))?;
    let path: Vec<&str> = key.split('.').collect();
    let mut node = &mut root;
    for (i, part) in path.iter().enumerate() {
        let table = node.as_table_mut().ok_or_else(|| {
            ArchError::new(
                &origin,
                key,
                raw,
                format!("`{}` is not a section", path[..i].join(".")),
            )
        })?;
        if !table.contains_key(*part) {
            let mut keys: Vec<_> = table.keys().cloned().collect();
            keys.sort();
            return Err(ArchError::new(
                &origin,
                key,
                raw,
                format!("no such key; keys here: {}", keys.join(", ")),
            ));
        }
        node = table.get_mut(*part).unwrap();
    }
    let old = node.clone();
    *node = parse_value(raw, &old).ok_or_else(|| {
        ArchError::new(&origin, key, raw, format!("expected a {}", old.type_str()))
    })?;
    let spec: ArchSpec = root
        .try_into()
        .map_err(|e: toml::de::Error| ArchError::new(&origin, key, raw, e.message().trim()))?;
    Ok(spec)
}

fn parse_value(raw: &str, like: &toml::Value) -> Option<toml::Value> {
    use toml::Value;
    match like {
        Value::Integer(_) => raw.parse::<i64>().ok().map(Value::Integer),
        Value::Float(_) => raw.parse::<f64>().ok().map(Value::Float),
        Value::Boolean(_) => match raw {
            "true" | "on" | "yes" => Some(Value::Boolean(true)),
            "false" | "off" | "no" => Some(Value::Boolean(false)),
            _ => None,
        },
        Value::String(_) => Some(Value::String(raw.trim_matches('"').to_string())),
        _ => None,
    }
}
