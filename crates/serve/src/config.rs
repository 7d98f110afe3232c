//! The server's file (EDGE.toml): which experiment it serves (a preset name or an experiment
//! file, with the evolution method), where the shipped checkpoints and the admin token live, and
//! the service's bounds (body size, queue, pending frames per terminal, the window's wait).
//! Strict: an unknown key is refused; every error names the file, the field, the value and
//! what is allowed (the house's one configuration mechanism, `nestevo_core::config`).

use super::error::{Result, ServeError};
use nestevo_core::config::{self as core, Config};
use nestevo_core::error::Invalid;
use nestevo_evolve::config::{self, Experiment};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// A preset (smoke, demo, paper) or the path of an experiment file.
    pub experiment: String,
    /// The evolution method (as `nestevo evolve run --method`; default nestevo).
    #[serde(default = "default_method")]
    pub method: String,
    /// File holding the admin token (registration); relative to the config file's folder.
    /// None: the server makes one in the state folder (`admin.token`, mode 0600).
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
    /// Folder of the shipped checkpoints that registration names (M1, M2, M3, ...).
    #[serde(default = "default_models")]
    pub models_dir: PathBuf,
    /// Largest request body in bytes (a PNG frame); larger is 413.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Evolution requests queued or running at most; more is 503 with Retry-After.
    #[serde(default = "default_queue")]
    pub queue_bound: usize,
    /// Frames a terminal may have waiting for its next evolution request; more is 503.
    #[serde(default = "default_pending")]
    pub max_pending_frames: usize,
    /// Seconds a window's first request waits for the other terminals' requests.
    #[serde(default = "default_timeout")]
    pub window_timeout_s: f64,
    /// LibTorch CPU threads of the evolution worker (None: LibTorch's default).
    #[serde(default)]
    pub threads: Option<i32>,
}

fn default_method() -> String {
    "nestevo".into()
}
fn default_models() -> PathBuf {
    PathBuf::from("models/pretrained")
}
fn default_body() -> usize {
    1 << 20
}
fn default_queue() -> usize {
    64
}
fn default_pending() -> usize {
    100_000
}
fn default_timeout() -> f64 {
    30.0
}

impl ServeConfig {
    /// The settings `--preset NAME` stands for: the preset's experiment, defaults elsewhere.
    pub fn preset(name: &str) -> Result<ServeConfig> {
        let c = ServeConfig {
            experiment: name.into(),
            method: default_method(),
            admin_token_file: None,
            models_dir: default_models(),
            max_body_bytes: default_body(),
            queue_bound: default_queue(),
            max_pending_frames: default_pending(),
            window_timeout_s: default_timeout(),
            threads: None,
        };
        Config::validate(&c, "--preset")?;
        Ok(c)
    }

    /// Reads and validates EDGE.toml; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<ServeConfig> {
        let shown = path.display().to_string();
        let text = core::read::<ServeConfig>(path)?;
        let mut c: ServeConfig = core::from_toml(&text, &shown)?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(f) = &c.admin_token_file {
            if f.is_relative() {
                c.admin_token_file = Some(base.join(f));
            }
        }
        let exp = Path::new(&c.experiment);
        if exp.extension().is_some_and(|x| x == "toml") && exp.is_relative() {
            c.experiment = base.join(exp).display().to_string();
        }
        Config::validate(&c, &shown)?;
        Ok(c)
    }

    /// The served experiment.
    pub fn experiment(&self) -> Result<Experiment> {
        let e = if Path::new(&self.experiment)
            .extension()
            .is_some_and(|x| x == "toml")
        {
            config::load_experiment(Path::new(&self.experiment))
        } else {
            config::preset(&self.experiment)
        };
        e.map_err(|e| ServeError::Config(format!("experiment: {e}")))
    }
}

impl Config for ServeConfig {
    const KIND: &'static str = "server config";

    fn validate(&self, source: &str) -> std::result::Result<(), Invalid> {
        let bad = |field: &str, value: String, allowed: &str| {
            Err(Invalid::new(source, field, value, allowed))
        };
        if self.max_body_bytes < 1024 {
            return bad(
                "max_body_bytes",
                self.max_body_bytes.to_string(),
                "at least 1024",
            );
        }
        if self.queue_bound == 0 {
            return bad("queue_bound", "0".into(), "at least 1");
        }
        if self.max_pending_frames == 0 {
            return bad("max_pending_frames", "0".into(), "at least 1");
        }
        if !(self.window_timeout_s.is_finite() && self.window_timeout_s >= 0.0) {
            return bad(
                "window_timeout_s",
                self.window_timeout_s.to_string(),
                "seconds, 0 or more",
            );
        }
        if let Some(t) = self.threads {
            if t < 1 {
                return bad("threads", t.to_string(), "at least 1");
            }
        }
        if let Err(e) = self.experiment() {
            return bad("experiment", self.experiment.clone(), &e.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unknown key and an out-of-range bound are refused, naming the field.
    #[test]
    fn strict_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("edge.toml");
        std::fs::write(&p, "experiment = \"smoke\"\nqueue_bond = 3\n").unwrap();
        let e = ServeConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("queue_bond"), "{e}");
        std::fs::write(&p, "experiment = \"smoke\"\nqueue_bound = 0\n").unwrap();
        let e = ServeConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("queue_bound") && e.contains("at least 1"), "{e}");
        std::fs::write(&p, "experiment = \"smoke\"\nadmin_token_file = \"a.tok\"\n").unwrap();
        let c = ServeConfig::load(&p).unwrap();
        assert_eq!(c.admin_token_file.unwrap(), dir.path().join("a.tok"));
        assert!(ServeConfig::preset("nope").is_err());
    }
}
