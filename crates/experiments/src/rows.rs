//! A harness's results file of JSON lines, one finished run a line: read back on a rerun so that
//! finished runs are skipped (resume), appended and flushed after every run so that a crash
//! loses at most the run in flight. What a line holds is the harness's row type.

use crate::error::{ExperimentError, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct RowsFile<T> {
    path: PathBuf,
    file: std::fs::File,
    rows: Vec<T>,
}

impl<T: Serialize + DeserializeOwned> RowsFile<T> {
    /// Opens (or starts) `path`; `what` names a row in the error for a line that is not one.
    pub fn open(path: &Path, what: &str) -> Result<Self> {
        let rows = match std::fs::read_to_string(path) {
            Ok(t) => t
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(k, l)| {
                    serde_json::from_str(l).map_err(|e| {
                        ExperimentError::BadInput(format!(
                            "{}: line {}: not {what}: {e}",
                            path.display(),
                            k + 1
                        ))
                    })
                })
                .collect::<Result<Vec<T>>>()?,
            Err(_) => Vec::new(),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| fault(path, "open", e))?;
        Ok(RowsFile {
            path: path.to_path_buf(),
            file,
            rows,
        })
    }

    pub fn rows(&self) -> &[T] {
        &self.rows
    }

    pub fn into_rows(self) -> Vec<T> {
        self.rows
    }

    /// Appends a finished run's row (one line, flushed).
    pub fn push(&mut self, row: T) -> Result<()> {
        let line = serde_json::to_string(&row).expect("a row serialises");
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.write_all(b"\n"))
            .and_then(|_| self.file.flush())
            .map_err(|e| fault(&self.path, "append to", e))?;
        self.rows.push(row);
        Ok(())
    }
}

fn fault(path: &Path, what: &str, e: std::io::Error) -> ExperimentError {
    ExperimentError::Fault(format!("{}: cannot {what}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_reopen_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rows.jsonl");
        let mut f = RowsFile::<(String, f64)>::open(&p, "a row").unwrap();
        f.push(("a".into(), 1.0)).unwrap();
        f.push(("b".into(), 2.5)).unwrap();
        let again = RowsFile::<(String, f64)>::open(&p, "a row").unwrap();
        assert_eq!(again.rows(), &[("a".into(), 1.0), ("b".into(), 2.5)]);
        std::fs::write(&p, "[\"a\", 1.0]\nnot json\n").unwrap();
        let e = RowsFile::<(String, f64)>::open(&p, "a row")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 2") && e.contains("not a row"), "{e}");
    }
}
