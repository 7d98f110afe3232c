//! The one configuration mechanism every configuration file uses (accelerator specs,
//! experiments, the service's file): strict serde from TOML, range checks, compiled-in presets,
//! `--set key=value` overrides read as the type the field has, and the field-by-field
//! difference of two configurations. Every error is an `Invalid` naming the file (or preset, or
//! override), the field, the value and what is allowed.
//!
//! A configuration type implements `Config` (its name in errors, its presets, its `validate`);
//! the functions below do the rest, so a new kind of file adds a type and an impl, nothing else.

use crate::error::Invalid;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use toml::Value;

/// A kind of configuration file.
pub trait Config: Serialize + DeserializeOwned + Clone {
    /// What the file is, in errors: "cannot read the {KIND}".
    const KIND: &'static str;
    /// How an override is written, in errors.
    const SET_FORM: &'static str = "key=value";
    /// Compiled-in presets: (name, TOML text).
    const PRESETS: &'static [(&'static str, &'static str)] = &[];

    /// Range checks after parsing and after overrides; the first bad value is the error.
    fn validate(&self, source: &str) -> Result<(), Invalid>;

    /// A value of the type of an optional field that is absent from the serialised form at
    /// `path` (`--set` may still set it), or `None` when `path` names no such field.
    fn optional_field(_path: &[&str]) -> Option<Value> {
        None
    }
}

/// The names of `C`'s presets.
pub fn preset_names<C: Config>() -> Vec<&'static str> {
    C::PRESETS.iter().map(|(n, _)| *n).collect()
}

/// A preset by name, parsed and validated.
pub fn preset<C: Config>(name: &str) -> Result<C, Invalid> {
    let source = format!("preset `{name}`");
    let text = C::PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            Invalid::new(
                &source,
                "",
                "",
                format!(
                    "no such preset; presets: {}",
                    preset_names::<C>().join(", ")
                ),
            )
        })?;
    parse(text, &source)
}

/// Reads, parses and validates a file.
pub fn load<C: Config>(path: &Path) -> Result<C, Invalid> {
    parse(&read::<C>(path)?, &path.display().to_string())
}

/// A configuration file's text; the error names the file and what it was to be.
pub fn read<C: Config>(path: &Path) -> Result<String, Invalid> {
    std::fs::read_to_string(path).map_err(|e| {
        Invalid::new(
            path.display().to_string(),
            "",
            "",
            format!("cannot read the {}: {e}", C::KIND),
        )
    })
}

/// Parses (strictly: the type decides which keys exist) and validates TOML text; `source`
/// names it in errors.
pub fn parse<C: Config>(text: &str, source: &str) -> Result<C, Invalid> {
    let c: C = from_toml(text, source)?;
    c.validate(source)?;
    Ok(c)
}

/// Parses TOML text strictly without validating it (for a type that resolves something, such
/// as relative paths, before its checks).
pub fn from_toml<C: DeserializeOwned>(text: &str, source: &str) -> Result<C, Invalid> {
    toml::from_str(text).map_err(|e| toml_error(source, text, &e))
}

/// Parses a JSON file's text (the scheduler's jobs files) into `T`; an error names the file,
/// the path of the field that failed (`[2].memory_mb`), and `expected` (what the file should
/// hold) after serde's own words.
pub fn from_json<T: DeserializeOwned>(
    text: &str,
    source: &str,
    expected: &str,
) -> Result<T, Invalid> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        Invalid::new(source, field, "", format!("{}: {expected}", e.inner()))
    })
}

/// A TOML error with the `section.key` and value of the line it points at: `[name]`, or the
/// k-th `[[name]]` (shown as `name[k]`).
pub fn toml_error(source: &str, text: &str, e: &toml::de::Error) -> Invalid {
    let msg = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return Invalid::new(source, "", "", msg);
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = &text[line_start..line_end];
    let Some((key, value)) = line.split_once('=') else {
        return Invalid::new(source, "", "", format!("{msg} (line {line_no})"));
    };
    let before = &text[..line_start];
    let section = before
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            if let Some(r) = l.strip_prefix("[[") {
                let name = r.split("]]").next()?.trim().to_string();
                let k = before
                    .lines()
                    .filter(|x| x.trim().starts_with(&format!("[[{name}]]")))
                    .count()
                    - 1;
                Some(format!("{name}[{k}]."))
            } else {
                l.strip_prefix('[')
                    .and_then(|r| r.split(']').next())
                    .map(|s| format!("{}.", s.trim()))
            }
        })
        .unwrap_or_default();
    let value = value.split('#').next().unwrap_or("").trim();
    Invalid::new(
        source,
        format!("{section}{}", key.trim()),
        value,
        format!("{msg} (line {line_no})"),
    )
}

/// Applies `key=value` overrides in order, then validates the result.
pub fn apply_overrides<C: Config>(c: &C, sets: &[String], source: &str) -> Result<C, Invalid> {
    let mut c = c.clone();
    for s in sets {
        c = apply_override(&c, s, source)?;
    }
    c.validate(source)?;
    Ok(c)
}

/// One override (`adc.bits=6`, `terminals.1.stream=E`): the key must exist (lists are indexed
/// by number); the value is read as the type the field has. Not validated (see
/// `apply_overrides`).
pub fn apply_override<C: Config>(c: &C, set: &str, source: &str) -> Result<C, Invalid> {
    let origin = format!("{source} (--set {set})");
    let (root, key, raw) = overridden(c, set, &origin)?;
    root.try_into()
        .map_err(|x: toml::de::Error| Invalid::new(&origin, &key, &raw, x.message().trim()))
}

/// Whether `set` names a key of `c` and holds a value of that key's type, without checking the
/// description it makes (a value may be invalid alone and valid beside another override, as in
/// a sweep's grid).
pub fn check_override_form<C: Config>(c: &C, set: &str, source: &str) -> Result<(), Invalid> {
    overridden(c, set, &format!("{source} (--set {set})")).map(|_| ())
}

/// `c` as a TOML value with `set` written in: the value, the key and the raw value.
fn overridden<C: Config>(
    c: &C,
    set: &str,
    origin: &str,
) -> Result<(Value, String, String), Invalid> {
    let (key, raw) = set.split_once('=').ok_or_else(|| {
        Invalid::new(
            origin,
            "",
            "",
            format!("an override has the form {}", C::SET_FORM),
        )
    })?;
    let (key, raw) = (key.trim(), raw.trim());
    let mut root = Value::try_from(c).map_err(|x| Invalid::new(origin, key, raw, x.to_string()))?;
    let path: Vec<&str> = key.split('.').collect();
    let mut node = &mut root;
    for (i, part) in path.iter().enumerate() {
        let here = path[..i].join(".");
        node = match node {
            Value::Table(t) => {
                if !t.contains_key(*part) {
                    if let Some(like) = C::optional_field(&path[..=i]) {
                        t.insert(part.to_string(), like);
                    }
                }
                if !t.contains_key(*part) {
                    let mut keys: Vec<_> = t.keys().cloned().collect();
                    keys.sort();
                    return Err(Invalid::new(
                        origin,
                        key,
                        raw,
                        format!("no such key; keys here: {}", keys.join(", ")),
                    ));
                }
                t.get_mut(*part).expect("checked")
            }
            Value::Array(a) => {
                let n = a.len();
                match part.parse::<usize>() {
                    Ok(k) if k < n => &mut a[k],
                    _ => {
                        return Err(Invalid::new(
                            origin,
                            key,
                            raw,
                            format!("`{here}` is a list of {n}: index it with 0 to {}", n - 1),
                        ))
                    }
                }
            }
            _ => {
                return Err(Invalid::new(
                    origin,
                    key,
                    raw,
                    format!("`{here}` is a value, not a section"),
                ))
            }
        };
    }
    let old = node.clone();
    *node = parse_value(raw, &old).ok_or_else(|| Invalid::new(origin, key, raw, expected(&old)))?;
    Ok((root, key.to_string(), raw.to_string()))
}

/// What a value of `like`'s type is, for an error.
fn expected(like: &Value) -> String {
    match like {
        Value::Integer(_) => format!("expected an integer (at most {})", i64::MAX),
        Value::Array(_) => "expected an array, written as TOML ([1, 2])".into(),
        other => format!("expected a {}", other.type_str()),
    }
}

/// `raw` read as the type of `like`: integer, float, boolean (true/on/yes, false/off/no),
/// string (surrounding quotes dropped) or a list written as TOML (`[]`, `[1, 2]`,
/// `[{w = 1}]`; its items are checked when the whole file is read back); `None` when it is not
/// one.
pub fn parse_value(raw: &str, like: &Value) -> Option<Value> {
    match like {
        Value::Integer(_) => raw.parse::<i64>().ok().map(Value::Integer),
        Value::Float(_) => raw.parse::<f64>().ok().map(Value::Float),
        Value::Boolean(_) => match raw {
            "true" | "on" | "yes" => Some(Value::Boolean(true)),
            "false" | "off" | "no" => Some(Value::Boolean(false)),
            _ => None,
        },
        Value::String(_) => Some(Value::String(raw.trim_matches('"').to_string())),
        Value::Array(_) => match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => match t.remove("v") {
                Some(v @ Value::Array(_)) => Some(v),
                _ => None,
            },
            Err(_) => None,
        },
        _ => None,
    }
}

/// The fields in which `b` differs from `a`, as `key: A -> B` (dotted keys, list items
/// indexed), empty when they are the same.
pub fn differences<C: Serialize>(a: &C, b: &C) -> Vec<String> {
    fn walk(key: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Table(x)), Some(Value::Table(y))) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let sub = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    walk(&sub, x.get(k), y.get(k), out);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{key}.{i}"), Some(u), Some(v), out);
                }
            }
            (x, y) if x != y => {
                let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
                out.push(format!("{key}: {} -> {}", show(x), show(y)));
            }
            _ => {}
        }
    }
    let (x, y) = (
        Value::try_from(a).expect("a configuration serialises"),
        Value::try_from(b).expect("a configuration serialises"),
    );
    let mut out = Vec::new();
    walk("", Some(&x), Some(&y), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Knobs {
        rows: i64,
        gain: f64,
        on: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        items: Vec<Item>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        w: i64,
    }

    impl Config for Knobs {
        const KIND: &'static str = "knobs file";
        const PRESETS: &'static [(&'static str, &'static str)] = &[(
            "small",
            "rows = 4\ngain = 1.5\non = true\n[[items]]\nw = 1\n[[items]]\nw = 2\n",
        )];
        fn validate(&self, source: &str) -> Result<(), Invalid> {
            if self.rows < 1 {
                return Err(Invalid::new(source, "rows", self.rows, "1 or more"));
            }
            Ok(())
        }
        fn optional_field(path: &[&str]) -> Option<Value> {
            (path == ["name"]).then(|| Value::String(String::new()))
        }
    }

    #[test]
    fn presets_overrides_and_differences() {
        let k: Knobs = preset("small").unwrap();
        let e = preset::<Knobs>("big").unwrap_err().to_string();
        assert!(
            e.contains("preset `big`") && e.contains("presets: small"),
            "{e}"
        );
        let sets = ["rows=8", "on=off", "items.1.w=5", "name=\"x\""].map(String::from);
        let o = apply_overrides(&k, &sets, "preset `small`").unwrap();
        assert_eq!((o.rows, o.on, o.items[1].w), (8, false, 5));
        assert_eq!(o.name.as_deref(), Some("x"));
        // A whole list, empty or not; a list of the wrong items is refused by name.
        let l = |v: &str| apply_overrides(&k, &[format!("items={v}")], "f.toml");
        assert!(l("[]").unwrap().items.is_empty());
        assert_eq!(l("[{w = 7}]").unwrap().items[0].w, 7);
        assert!(l("[1, 2]").unwrap_err().field == "items");
        assert!(l("[").unwrap_err().allowed.contains("expected an array"));
        let d = differences(&k, &o);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d.contains(&"items.1.w: 2 -> 5".to_string()), "{d:?}");
        assert!(differences(&k, &k).is_empty());
    }

    #[test]
    fn json_errors_name_the_field_path() {
        let ok: Vec<Item> = from_json(r#"[{"w": 1}, {"w": 2}]"#, "j.json", "items").unwrap();
        assert_eq!(ok[1].w, 2);
        let e = from_json::<Vec<Item>>(r#"[{"w": 1}, {"w": "x"}]"#, "j.json", "a list of items")
            .unwrap_err();
        assert_eq!((e.file.as_str(), e.field.as_str()), ("j.json", "[1].w"));
        assert!(e.allowed.ends_with("a list of items"), "{e}");
    }

    #[test]
    fn every_error_names_file_field_value_and_what_is_allowed() {
        let k: Knobs = preset("small").unwrap();
        let e = |s: &str| apply_overrides(&k, &[s.to_string()], "f.toml").unwrap_err();
        let x = e("rows=0");
        assert_eq!((x.field.as_str(), x.value.as_str()), ("rows", "0"));
        assert!(x.allowed.contains("1 or more"));
        assert!(e("rows=many").allowed.contains("expected an integer"));
        assert!(e("depth=3")
            .allowed
            .contains("keys here: gain, items, on, rows"));
        assert!(e("items.7.w=1").allowed.contains("a list of 2"));
        assert!(e("rows.x=1").allowed.contains("is a value, not a section"));
        assert!(e("rows").allowed.contains("the form key=value"));
        let text = "rows = 4\ngain = \"high\"\non = true\nitems = []\n";
        let x = parse::<Knobs>(text, "f.toml").unwrap_err();
        assert_eq!((x.field.as_str(), x.value.as_str()), ("gain", "\"high\""));
        assert!(x.allowed.contains("line 2"), "{x}");
        let x = parse::<Knobs>(
            "rows = 4\ngain = 1.0\non = true\nitems = []\nextra = 1\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(x.to_string().contains("extra"), "{x}");
        let x = load::<Knobs>(Path::new("/no/such/knobs.toml")).unwrap_err();
        assert!(x.to_string().contains("cannot read the knobs file"), "{x}");
    }
}
