//! The service's HTTP client (blocking, plain HTTP; the terminal and the load test use it).
//! A dropped connection, a refused one (the server restarting) and 503 are retried with
//! exponential backoff (100 ms doubling to 5 s, or the server's Retry-After), up to
//! `max_attempts`; every other answer is returned as it came. Retrying is safe because every
//! write is idempotent: a frame is keyed by (terminal, stream time), an evolution request by
//! its Idempotency-Key.

use super::http::{ErrorBody, Health};
use super::service::{EvolutionStatus, FrameAck, Registered};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: no answer after {attempts} attempts: {last}")]
    Unreachable {
        url: String,
        attempts: u32,
        last: String,
    },
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: unexpected answer: {message}")]
    Decode { url: String, message: String },
    /// The address cannot be reached by any retry (not a URL, another scheme, a host that
    /// does not resolve).
    #[error("{url}: {message} (the server is given like http://127.0.0.1:8470)")]
    BadAddress { url: String, message: String },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// One answer.
pub struct Reply {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    pub max_attempts: u32,
    /// Retries made so far (for the record).
    pub retries: std::cell::Cell<u64>,
    /// Say on stderr when a request is being retried (a terminal or a load test's admin; not
    /// each of a load test's many clients).
    pub verbose: bool,
}

impl Client {
    /// `base` like `http://127.0.0.1:8470`; `token` is sent as `Authorization: Bearer`.
    pub fn new(base: &str, token: Option<String>) -> Client {
        Client {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(120))
                .build(),
            base: base.trim_end_matches('/').to_string(),
            token,
            max_attempts: 40,
            retries: std::cell::Cell::new(0),
            verbose: false,
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn with_token(&self, token: &str) -> Client {
        let mut c = Client::new(&self.base, Some(token.to_string()));
        c.max_attempts = self.max_attempts;
        c.verbose = self.verbose;
        c
    }

    /// Sends with retries; see the module doc.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        for attempt in 0..self.max_attempts {
            if attempt > 0 {
                self.retries.set(self.retries.get() + 1);
                if self.verbose && (attempt == 1 || attempt % 10 == 0) {
                    // Transport errors already name the URL.
                    let what = if last.contains(&url) {
                        last.clone()
                    } else {
                        format!("{url}: {last}")
                    };
                    eprintln!(
                        "{what}; retrying (attempt {} of {})",
                        attempt + 1,
                        self.max_attempts
                    );
                }
            }
            let mut req = self.agent.request(method, &url);
            if let Some(t) = &self.token {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let r = match body {
                Some(b) => req.send_bytes(b),
                None => req.call(),
            };
            let backoff = Duration::from_millis((100u64 << attempt.min(6)).min(5000));
            let resp = match r {
                Ok(resp) => resp,
                Err(ureq::Error::Status(503, resp)) => {
                    let wait = resp
                        .header("Retry-After")
                        .and_then(|v| v.parse::<u64>().ok())
                        .map_or(backoff, |s| {
                            Duration::from_secs(s).min(Duration::from_secs(10))
                        });
                    last = "503 Service Unavailable".into();
                    if attempt + 1 < self.max_attempts {
                        std::thread::sleep(wait);
                    }
                    continue;
                }
                Err(ureq::Error::Status(_, resp)) => resp,
                Err(ureq::Error::Transport(t)) => {
                    use ureq::ErrorKind as K;
                    // Only a connection that failed or dropped can come back.
                    if matches!(t.kind(), K::InvalidUrl | K::UnknownScheme | K::Dns) {
                        return Err(ClientError::BadAddress {
                            url,
                            message: t.to_string(),
                        });
                    }
                    last = t.to_string();
                    if attempt + 1 < self.max_attempts {
                        std::thread::sleep(backoff);
                    }
                    continue;
                }
            };
            let status = resp.status();
            let etag = resp.header("ETag").map(str::to_string);
            let mut body = Vec::new();
            if let Err(e) = resp.into_reader().read_to_end(&mut body) {
                last = format!("reading the answer: {e}");
                std::thread::sleep(backoff);
                continue;
            }
            return Ok(Reply { status, etag, body });
        }
        Err(ClientError::Unreachable {
            url,
            attempts: self.max_attempts,
            last,
        })
    }

    fn json<T: DeserializeOwned>(&self, path: &str, r: Reply, ok: &[u16]) -> Result<T> {
        let url = format!("{}{path}", self.base);
        if !ok.contains(&r.status) {
            let message = serde_json::from_slice::<ErrorBody>(&r.body)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into_owned());
            return Err(ClientError::Http {
                url,
                status: r.status,
                message,
            });
        }
        serde_json::from_slice(&r.body).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }

    /// Registers a terminal (this client holds the admin token).
    pub fn register(&self, id: &str, model: &str, stream: &str) -> Result<Registered> {
        let body = serde_json::json!({"id": id, "model": model, "stream": stream}).to_string();
        let r = self.send(
            "POST",
            "/v1/terminals",
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )?;
        self.json("/v1/terminals", r, &[201])
    }

    pub fn put_frame(&self, id: &str, time_s: f64, png: &[u8]) -> Result<FrameAck> {
        let path = format!("/v1/terminals/{id}/frames");
        let t = format!("{time_s}");
        let r = self.send(
            "POST",
            &path,
            &[("Content-Type", "image/png"), ("X-Frame-Time", &t)],
            Some(png),
        )?;
        self.json(&path, r, &[202])
    }

    pub fn evolve(&self, id: &str, key: Option<&str>) -> Result<EvolutionStatus> {
        let path = format!("/v1/terminals/{id}/evolutions");
        let h: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        let r = self.send("POST", &path, &h, Some(&[]))?;
        self.json(&path, r, &[202])
    }

    pub fn evolution(&self, request: i64) -> Result<EvolutionStatus> {
        let path = format!("/v1/evolutions/{request}");
        let r = self.send("GET", &path, &[], None)?;
        self.json(&path, r, &[200])
    }

    /// Polls a request until it is done or failed, or `timeout` passes.
    pub fn wait_evolution(&self, request: i64, timeout: Duration) -> Result<EvolutionStatus> {
        let t0 = std::time::Instant::now();
        loop {
            let s = self.evolution(request)?;
            if s.state == "done" || s.state == "failed" || t0.elapsed() > timeout {
                return Ok(s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The model, unless `held` (an ETag) is current: `Some((etag, bytes))` or None on 304.
    pub fn model(&self, id: &str, held: Option<&str>) -> Result<Option<(String, Vec<u8>)>> {
        let path = format!("/v1/terminals/{id}/model");
        let h: Vec<(&str, &str)> = held.map(|e| ("If-None-Match", e)).into_iter().collect();
        let r = self.send("GET", &path, &h, None)?;
        match r.status {
            304 => Ok(None),
            200 => Ok(Some((r.etag.unwrap_or_default(), r.body))),
            _ => self.json::<()>(&path, r, &[]).map(|_| None),
        }
    }

    pub fn health(&self) -> Result<Health> {
        let r = self.send("GET", "/healthz", &[], None)?;
        self.json("/healthz", r, &[200])
    }
}
