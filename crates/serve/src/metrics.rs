//! What `/metrics` reports, in the Prometheus text format (OpenMetrics flavour): requests by
//! route and status, the evolution queue's depth, frames stored, the evolution latency (request
//! to done, seconds) and bytes in and out.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteLabels, Counter>,
    pub queue_depth: Gauge,
    pub frames_stored: Gauge,
    pub evolution_seconds: Histogram,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nestevo");
        let requests = Family::<RouteLabels, Counter>::default();
        let queue_depth = Gauge::default();
        let frames_stored = Gauge::default();
        // 0.25 s .. about 8.5 min.
        let evolution_seconds = Histogram::new(exponential_buckets(0.25, 2.0, 12));
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "evolution_queue_depth",
            "Evolution requests queued or running",
            queue_depth.clone(),
        );
        registry.register(
            "frames_stored",
            "Frames durably stored",
            frames_stored.clone(),
        );
        registry.register(
            "evolution_latency_seconds",
            "Seconds from an evolution request to its end (done or failed)",
            evolution_seconds.clone(),
        );
        registry.register(
            "http_request_bytes",
            "Request body bytes received",
            bytes_in.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Response body bytes sent",
            bytes_out.clone(),
        );
        Metrics {
            registry,
            requests,
            queue_depth,
            frames_stored,
            evolution_seconds,
            bytes_in,
            bytes_out,
        }
    }

    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RouteLabels {
                route: route.into(),
                status: status.to_string(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry)
            .expect("writing to a String cannot fail");
        s
    }
}
