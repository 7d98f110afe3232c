//! A measured device: a CSV table of programmed level to conductance mean and spread, as a
//! characterisation run reports it. Each cell gets `N(mean_us[level], sd_us[level]^2)` once,
//! clipped at 0 uS. The periphery still assumes the nominal levels (g_min + level * step), so a
//! table whose means are off the nominal grid shows up as a systematic error.
//!
//! ```text
//! level,mean_us,sd_us
//! 0,1.2,0.3
//! 1,33.5,1.1
//! 2,67.0,1.4
//! 3,98.8,0.9
//! ```

use super::{CellLaw, Cells, DeviceError, LawInfo};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::path::Path;
use std::sync::Arc;

pub const INFO: LawInfo = LawInfo {
    name: "table",
    summary: "measured conductance per level: N(mean_us, sd_us^2) from a CSV level,mean_us,sd_us",
    params: "file (CSV path, required)",
    build: |p| Ok(Arc::new(Table::load(Path::new(p.text("file")?))?)),
};

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file it came from, for messages.
    pub file: String,
    /// (mean, sd) in uS, indexed by level.
    pub levels: Vec<(f64, f64)>,
}

impl Table {
    pub fn load(path: &Path) -> Result<Self, DeviceError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DeviceError::new("file", path.display(), format!("cannot be read: {e}"))
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the CSV text; `file` names it in errors (`file:line column`).
    pub fn parse(text: &str, file: &str) -> Result<Self, DeviceError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        let header: Vec<_> = match lines.next() {
            Some((_, h)) => h.split(',').map(str::trim).collect(),
            None => {
                return Err(DeviceError::new(
                    file,
                    "(empty)",
                    "a header level,mean_us,sd_us then one row per level",
                ))
            }
        };
        if header != ["level", "mean_us", "sd_us"] {
            return Err(DeviceError::new(
                format!("{file}:header"),
                header.join(","),
                "allowed: level,mean_us,sd_us",
            ));
        }
        let mut rows: Vec<Option<(f64, f64)>> = Vec::new();
        for (i, line) in lines {
            let at = |col: &str| format!("{file}:{} {col}", i + 1);
            let f: Vec<_> = line.split(',').map(str::trim).collect();
            if f.len() != 3 {
                return Err(DeviceError::new(
                    at("row"),
                    line,
                    "three fields: level,mean_us,sd_us",
                ));
            }
            let level: usize = f[0].parse().ok().filter(|l| *l < 256).ok_or_else(|| {
                DeviceError::new(at("level"), f[0], "allowed: an integer 0..=255")
            })?;
            let num = |col: &str, s: &str| -> Result<f64, DeviceError> {
                s.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| DeviceError::new(at(col), s, "allowed: a number >= 0 (uS)"))
            };
            let (mean, sd) = (num("mean_us", f[1])?, num("sd_us", f[2])?);
            if rows.len() <= level {
                rows.resize(level + 1, None);
            }
            if rows[level].replace((mean, sd)).is_some() {
                return Err(DeviceError::new(
                    at("level"),
                    level,
                    "each level appears once",
                ));
            }
        }
        let levels = rows
            .iter()
            .enumerate()
            .map(|(l, r)| {
                r.ok_or_else(|| {
                    DeviceError::new(
                        format!("{file}:level"),
                        l,
                        "missing: the table needs every level from 0 up to its highest",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if levels.is_empty() {
            return Err(DeviceError::new(file, "(no rows)", "one row per level"));
        }
        Ok(Table {
            file: file.to_string(),
            levels,
        })
    }
}

impl CellLaw for Table {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn program(&self, cells: &mut Cells<'_>, rng: &mut ChaCha8Rng) {
        for (g, &l) in cells.g.iter_mut().zip(cells.levels) {
            let (mean, sd) = self.levels[l as usize];
            let x = Normal::new(mean, sd).expect("checked spread").sample(rng);
            *g = x.max(0.0);
        }
    }

    fn check(&self, _g_min: f64, _g_max: f64, cell_max: u32) -> Result<(), DeviceError> {
        let n = cell_max as usize + 1;
        if self.levels.len() != n {
            return Err(DeviceError::new(
                format!("{}:level", self.file),
                format!("0..={}", self.levels.len() - 1),
                format!("the crossbar's cells hold levels 0..={cell_max}: one row for each"),
            ));
        }
        Ok(())
    }
}
