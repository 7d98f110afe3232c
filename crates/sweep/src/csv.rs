//! The results CSV: one row per (point, model), fields quoted as RFC 4180 does, numbers in
//! Rust's shortest round-trip form, so the same grid always writes the same bytes.

use super::perf::Metrics;

/// The fixed columns after `point` and the grid's keys.
pub const METRIC_COLUMNS: &[&str] = &[
    "model",
    "status",
    "chips",
    "crossbars",
    "energy_per_frame_uj",
    "latency_us",
    "period_us",
    "area_mm2",
    "average_power_w",
    "score",
    "reason",
];

/// One row of the results.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub point: u64,
    pub values: Vec<String>,
    pub model: String,
    /// `ok`, `invalid` (the arch rejected the point) or `error` (the model did not map).
    pub status: String,
    pub metrics: Option<Metrics>,
    /// The accuracy score of the point (the sweep's metadata names it), when measured.
    pub score: Option<f64>,
    pub reason: String,
}

pub fn header(keys: &[String]) -> String {
    let mut cols = vec!["point".to_string()];
    cols.extend(keys.iter().cloned());
    cols.extend(METRIC_COLUMNS.iter().map(|s| s.to_string()));
    cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",") + "\n"
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Row {
    pub fn line(&self) -> String {
        let mut f = vec![self.point.to_string()];
        f.extend(self.values.iter().map(|v| quote(v)));
        f.push(quote(&self.model));
        f.push(self.status.clone());
        match &self.metrics {
            Some(m) => {
                f.push(m.chips.to_string());
                f.push(m.crossbars.to_string());
                for v in [
                    m.energy_per_frame_uj,
                    m.latency_us,
                    m.period_us,
                    m.area_mm2,
                    m.average_power_w,
                ] {
                    f.push(v.to_string());
                }
            }
            None => f.extend(std::iter::repeat_n(String::new(), 7)),
        }
        f.push(self.score.map(|v| v.to_string()).unwrap_or_default());
        f.push(quote(&self.reason.replace(['\n', '\r'], " ")));
        f.join(",") + "\n"
    }

    /// Parses a line written by `line` for a grid of `keys` axes.
    pub fn parse(line: &str, keys: usize) -> Option<Row> {
        let f = split(line.trim_end_matches(['\n', '\r']))?;
        if f.len() != 1 + keys + METRIC_COLUMNS.len() {
            return None;
        }
        let num = |s: &String| s.parse::<f64>().ok();
        let m = &f[1 + keys..];
        let metrics = if m[1] == "ok" {
            Some(Metrics {
                chips: m[2].parse().ok()?,
                crossbars: m[3].parse().ok()?,
                energy_per_frame_uj: num(&m[4])?,
                latency_us: num(&m[5])?,
                period_us: num(&m[6])?,
                area_mm2: num(&m[7])?,
                average_power_w: num(&m[8])?,
            })
        } else {
            None
        };
        Some(Row {
            point: f[0].parse().ok()?,
            values: f[1..1 + keys].to_vec(),
            model: m[0].clone(),
            status: m[1].clone(),
            metrics,
            score: if m[9].is_empty() {
                None
            } else {
                Some(num(&m[9])?)
            },
            reason: m[10].clone(),
        })
    }
}

/// Splits one CSV line into fields (quoted fields may hold commas and doubled quotes).
pub fn split(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, ',') => {
                out.push(std::mem::take(&mut cur));
                at_start = true;
            }
            (_, c) => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}
