//! A long sweep's results file: one CSV row per finished point, keyed by its first `keys`
//! columns. The file is rewritten atomically after every point, so a crash loses at most the
//! point in flight; a rerun reads it and skips the points already there (resume). A file whose
//! header differs from the sweep's is refused rather than mixed.

use nestevo_core::error::{write_atomic, IoError};
use nestevo_couple::CoupleError;
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
