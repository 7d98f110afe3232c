//! A long sweep's results file: one CSV row per finished point, keyed by its first `keys`
//! columns. The file is rewritten atomically after every point, so a crash loses at most the
//! point in flight; a rerun reads it and skips the points already there (resume). A file whose
//! header differs from the sweep's is refused rather than mixed, and so is a file made by a
//! different run (another checkpoint, accelerator, frames or seed): `bound_to` keeps what made
//! it beside it as `<file>.run.json`.

use nestevo_core::error::{write_atomic, IoError};
use nestevo_couple::CoupleError;
use nestevo_model::Tensors;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub struct PointsFile {
    path: PathBuf,
    header: Vec<String>,
    keys: usize,
    rows: Vec<Vec<String>>,
}

impl PointsFile {
    /// Opens (or starts) `path` with `header`; the first `keys` columns identify a point.
    pub fn open(path: &Path, header: &[&str], keys: usize) -> Result<Self, CoupleError> {
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        let mut rows = Vec::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| IoError::new(path, "read", e))?;
            let mut lines = text.lines();
            let got: Vec<String> = lines
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::to_string)
                .collect();
            nestevo_core::check!(
                got == header,
                "results file {}: its header `{}` is not this sweep's `{}` (move it away or pick another --out)",
                path.display(),
                got.join(","),
                header.join(",")
            );
            for l in lines.filter(|l| !l.trim().is_empty()) {
                let r: Vec<String> = l.split(',').map(str::to_string).collect();
                nestevo_core::check!(
                    r.len() == header.len(),
                    "results file {}: row `{l}` has {} fields, the header {}",
                    path.display(),
                    r.len(),
                    header.len()
                );
                rows.push(r);
            }
        }
        Ok(PointsFile {
            path: path.to_path_buf(),
            header,
            keys,
            rows,
        })
    }

    /// Ties the file to the run that makes it. `identity` (a JSON object of what decides every
    /// point's value: the model's content, the accelerator, the frames, the seeds) is written
    /// beside the file as `<file>.run.json` when the file starts; a rerun with another identity,
    /// or a file with points but no such record, is refused, naming what differs, so that
    /// another run's points are never read back as this one's.
    pub fn bound_to(self, identity: &serde_json::Value) -> Result<Self, CoupleError> {
        let side = PathBuf::from(format!("{}.run.json", self.path.display()));
        if side.exists() {
            let text =
                std::fs::read_to_string(&side).map_err(|e| IoError::new(&side, "read", e))?;
            // Compared as TOML values so that the configurations' own `differences` names
            // each field that moved (`arch.adc.bits: 8 -> 6`), not a whole section.
            let kept = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| toml::Value::try_from(v).ok())
                .ok_or_else(|| {
                    CoupleError::Invalid(format!(
                        "run record {}: not a record this program wrote (a JSON object without \
                         nulls); move it away with its results file",
                        side.display()
                    ))
                })?;
            let now = toml::Value::try_from(identity)
                .map_err(|e| CoupleError::Invalid(format!("internal: run record: {e}")))?;
            if kept != now {
                let fields = nestevo_core::config::differences(&kept, &now);
                nestevo_core::invalid!(
                    "results file {} was made by another run ({}, recorded in {}): move it \
                     away or pick another --out",
                    self.path.display(),
                    fields.join("; "),
                    side.display()
                );
            }
        } else {
            nestevo_core::check!(
                self.rows.is_empty(),
                "results file {} holds {} points but no record of the run that made them ({}): \
                 move it away or pick another --out",
                self.path.display(),
                self.rows.len(),
                side.display()
            );
            let text = serde_json::to_string_pretty(identity)
                .map_err(|e| CoupleError::Invalid(format!("internal: {e}")))?;
            write_atomic(&side, text.as_bytes())?;
        }
        Ok(self)
    }

    /// Refuses a file where a value of one of `columns` is not a number (`NaN` is one), naming
    /// the file, the line, the column and the value, rather than reading it back as NaN.
    pub fn numeric(self, columns: &[&str]) -> Result<Self, CoupleError> {
        for c in columns {
            let Some(i) = self.header.iter().position(|h| h == c) else {
                nestevo_core::invalid!("internal: no column `{c}` in {}", self.path.display());
            };
            for (k, r) in self.rows.iter().enumerate() {
                nestevo_core::check!(
                    r[i].trim().parse::<f64>().is_ok(),
                    "results file {}, line {}: column `{c}` holds `{}`, not a number",
                    self.path.display(),
                    k + 2,
                    r[i]
                );
            }
        }
        Ok(self)
    }

    /// Whether the point with these key values is already in the file.
    pub fn done(&self, key: &[String]) -> bool {
        self.rows.iter().any(|r| r[..self.keys] == *key)
    }

    /// Appends a finished point and rewrites the file atomically.
    pub fn push(&mut self, row: Vec<String>) -> Result<(), CoupleError> {
        nestevo_core::check!(
            row.len() == self.header.len(),
            "internal: a row of {} fields for a header of {}",
            row.len(),
            self.header.len()
        );
        // The file is plain comma-separated without quoting: a field holding a comma or a line
        // break would shift every later column on reading back.
        if let Some(f) = row.iter().find(|f| f.contains([',', '\n'])) {
            nestevo_core::invalid!("internal: the field `{f}` holds a comma or a line break");
        }
        self.rows.push(row);
        let mut s = self.header.join(",") + "\n";
        for r in &self.rows {
            s += &(r.join(",") + "\n");
        }
        write_atomic(&self.path, s.as_bytes())?;
        Ok(())
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The value of column `name` in `row`, as a number.
    pub fn num(&self, row: &[String], name: &str) -> f64 {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| row[i].parse().ok())
            .unwrap_or(f64::NAN)
    }
}

/// SHA-256 of a checkpoint's content (every tensor's name, shape and values, in name order):
/// the same weights give the same digest whatever file they were read from.
pub fn tensors_digest(t: &Tensors) -> String {
    let mut h = Sha256::new();
    for (name, a) in &t.map {
        h.update(name.as_bytes());
        for d in a.shape() {
            h.update((*d as u64).to_le_bytes());
        }
        for v in a.iter() {
            h.update(v.to_le_bytes());
        }
    }
    format!("{:x}", h.finalize())
}

/// What decides every point of a detector sweep, for `PointsFile::bound_to`: the model and its
/// weights' digest, the accelerator, the scored frames, the calibration frames, the noise seed.
pub fn detector_run(
    desc: &nestevo_model::ModelDesc,
    tensors: &Tensors,
    arch: &nestevo_arch::ArchSpec,
    frames: &impl serde::Serialize,
    calib_frames: usize,
    noise_seed: u64,
) -> serde_json::Value {
    serde_json::json!({
        "model": desc.name,
        "tensors_sha256": tensors_digest(tensors),
        "arch": arch,
        "frames": frames,
        "calib_frames": calib_frames,
        "noise_seed": noise_seed,
    })
}
