//! Shared by the LibTorch evolution tests: a tiny detector description (16x16 input, four
//! classes, heat-map/size/offset heads on `head_relu`) and seeded instances of it.

use nestevo_model::parse_model;
use nestevo_train::detector::Detector;
use tch::{Device, Kind, Tensor};

pub const TINY: &str = r#"
name = "tiny"
input = [3, 16, 16]
outputs = ["hm", "wh", "off"]
[[layers]]
name = "stem"
op = "conv"
out_channels = 6
kernel = 3
stride = 2
padding = 1
bias = false
[[layers]]
name = "stem_bn"
op = "bn"
[[layers]]
name = "stem_relu"
op = "relu"
[[layers]]
name = "head"
op = "conv"
out_channels = 8
kernel = 3
stride = 2
padding = 1
bias = false
[[layers]]
name = "head_bn"
op = "bn"
[[layers]]
name = "head_relu"
op = "relu"
[[layers]]
name = "hm"
op = "conv"
out_channels = 4
kernel = 1
bias = true
inputs = ["head_relu"]
[[layers]]
name = "wh"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["head_relu"]
[[layers]]
name = "off"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["head_relu"]
"#;

#[allow(dead_code)]
pub fn tiny(seed: i64) -> Detector {
    tch::manual_seed(seed);
    let d = Detector::new(&parse_model(TINY, "tiny").unwrap(), 4, Device::Cpu).unwrap();
    // Distinct batch-norm statistics, so that their averaging is seen too.
    let _g = tch::no_grad_guard();
    for (k, v) in d.vs.variables() {
        if k.ends_with("running_mean") || k.ends_with("running_var") {
            let mut v = v.shallow_clone();
            v.copy_(&(Tensor::rand(v.size(), (Kind::Float, Device::Cpu)) + 0.5));
        }
    }
    d
}

/// The smoke preset shrunk for CI (few frames and steps), with `extra` overrides after.
#[allow(dead_code)]
pub fn small_smoke(extra: &[&str]) -> nestevo_evolve::config::Experiment {
    let mut sets: Vec<String> = [
        "windows.d_max=16",
        "windows.min_upload=4",
        "windows.eval_frames=16",
        "distill.steps=4",
        "distill.batch=4",
        "mutual.steps=3",
        "mutual.batch=4",
        "generator.steps=10",
        "generator.batch=16",
        "generator.samples=4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.extend(extra.iter().map(|s| s.to_string()));
    let smoke = nestevo_evolve::config::preset("smoke").unwrap();
    nestevo_evolve::config::apply_overrides(&smoke, &sets, "smoke").unwrap()
}
