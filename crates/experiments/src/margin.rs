//! The teacher margin before any evolution (SPEC section 6): every shipped model on
//! held-out frames of every stream, mAP@0.5 with a 95 % bootstrap interval, and the two
//! conditions of the paper's Fig. 8 checked on the intervals: the global model above each
//! terminal model on every stream (its lower bound above their upper bounds), and every
//! model lower on D and E than on the source domain (its upper bound there below its lower
//! bound on source).

use nestevo_data::StreamId;
use nestevo_eval::heldout::HeldOut;
use nestevo_eval::{evaluate_with_ci, ground_truth};
use nestevo_evolve::error::Result;
use nestevo_train::{checkpoint, evaluate::predict};
use serde::Serialize;
use std::path::PathBuf;

pub struct MarginOptions {
    /// Folder of NAME.safetensors + NAME.toml.
    pub models_dir: PathBuf,
    /// The teacher first, then the terminal models.
    pub models: Vec<String>,
    pub streams: Vec<StreamId>,
    /// Held-out frames per stream (`eval::heldout`: one every 2 s of the evaluation seed).
    pub frames: usize,
    pub device: tch::Device,
}

/// mAP@0.5 and its 95 % bootstrap interval (`eval::ci`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapCi {
    pub map50: f64,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarginCell {
    pub model: String,
    pub stream: String,
    #[serde(flatten)]
    pub ci: MapCi,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarginReport {
    pub models: Vec<String>,
    pub params: Vec<i64>,
    pub streams: Vec<String>,
    /// The held-out set of each stream, in words.
    pub frames: Vec<String>,
    pub cells: Vec<MarginCell>,
    /// Streams on which the teacher's interval lies above every terminal's.
    pub teacher_above: Vec<(String, bool)>,
    /// (model, stream) for D and E: the model's interval there lies below its source one.
    pub drops: Vec<(String, String, bool)>,
    pub seconds: f64,
}

impl MarginReport {
    pub fn cell(&self, model: &str, stream: &str) -> Option<&MapCi> {
        self.cells
            .iter()
            .find(|c| c.model == model && c.stream == stream)
            .map(|c| &c.ci)
    }
}

pub fn run(o: &MarginOptions) -> Result<MarginReport> {
    let t0 = std::time::Instant::now();
    let mut models = Vec::new();
    for name in &o.models {
        let path = o.models_dir.join(format!("{name}.safetensors"));
        models.push(checkpoint::load(&path, o.device)?.0);
    }
    let mut cells = Vec::new();
    let mut sets = Vec::new();
    for &s in &o.streams {
        let set = HeldOut::new(s, o.frames);
        let [_, h, w] = models[0].input_chw();
        let frames = set.render(w, h)?;
        sets.push(set.describe());
        let gt = ground_truth(&frames);
        for m in &models {
            let r = evaluate_with_ci(&gt, &predict(m, &frames, 64)?);
            let ci = r.ci95.expect("asked for").map50;
            cells.push(MarginCell {
                model: m.desc.name.clone(),
                stream: s.name().to_string(),
                ci: MapCi {
                    map50: r.map50,
                    lo: ci.lo,
                    hi: ci.hi,
                },
            });
        }
    }
    let names: Vec<String> = models.iter().map(|m| m.desc.name.clone()).collect();
    let mut r = MarginReport {
        models: names.clone(),
        params: models.iter().map(|m| m.params()).collect(),
        streams: o.streams.iter().map(|s| s.name().to_string()).collect(),
        frames: sets,
        cells,
        teacher_above: Vec::new(),
        drops: Vec::new(),
        seconds: 0.0,
    };
    for s in &r.streams {
        let t = r.cell(&names[0], s).expect("scored");
        let above = names[1..]
            .iter()
            .all(|m| t.lo > r.cell(m, s).expect("scored").hi);
        r.teacher_above.push((s.clone(), above));
    }
    if r.streams.iter().any(|s| s == "source") {
        for m in &names {
            let src = r.cell(m, "source").expect("scored").lo;
            for s in ["D", "E"] {
                if let Some(c) = r.cell(m, s) {
                    r.drops.push((m.clone(), s.to_string(), c.hi < src));
                }
            }
        }
    }
    r.seconds = t0.elapsed().as_secs_f64();
    Ok(r)
}
