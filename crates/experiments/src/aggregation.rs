//! Why intermediates and a generator (the paper's Tables 2 and 3), measured on held-out
//! frames (`eval::heldout`) of each stream, mAP@0.5 with 95 % bootstrap intervals:
//!
//! - Table 2: FedAvg of heterogeneous terminals (M1 + M2 + M3, pruned to different widths)
//!   is refused, with the error saying which tensor's shapes differ; FedAvg of
//!   same-architecture terminals (copies of the terminal base) each distilled from the global
//!   model on a different stream gives the averaged model's accuracy beside each one's.
//! - Table 3: intermediates (the global architecture) each trained by mutual learning with a
//!   terminal on a different stream, averaged without and with the generator's samples: the
//!   averaged model against the best single intermediate on the streams' joint frames.
//!
//! Training frames come from the streams' training seeds (`train::frames::FramePool`), never
//! from the held-out seed that scores.

use nestevo_couple::label::{LabelRequest, Labelled, Labeller};
use nestevo_data::{Frame, StreamId, CLASSES};
use nestevo_eval::heldout::HeldOut;
use nestevo_eval::{evaluate_with_ci, ground_truth};
use nestevo_evolve::coevolve::{
    class_counts, class_prior, copy_model, train_pair, PairConfig, PairLabels,
};
use nestevo_evolve::distill::{distill, DistillConfig};
use nestevo_evolve::error::Result;
use nestevo_evolve::fedavg::fedavg_detectors;
use nestevo_evolve::generator::{train_generator, GenConfig, Generator, Head};
use nestevo_evolve::labeller::TorchLabeller;
use nestevo_train::checkpoint;
use nestevo_train::detector::Detector;
use nestevo_train::evaluate::predict;
use nestevo_train::frames::FramePool;
use serde::Serialize;
use std::path::PathBuf;

pub struct AggOptions {
    pub models_dir: PathBuf,
    pub streams: Vec<StreamId>,
    /// Training frames per stream.
    pub frames: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Held-out frames per stream.
    pub eval_frames: usize,
    pub min_score: f64,
    pub mu: f64,
    pub seed: u64,
    pub device: tch::Device,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Score {
    pub map50: f64,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub model: String,
    /// Per stream of the options, then the joint frames of all of them.
    pub scores: Vec<Score>,
    pub joint: Score,
}

#[derive(Debug, Clone, Serialize)]
pub struct AggTable {
    pub title: String,
    pub streams: Vec<String>,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl AggTable {
    pub fn markdown(&self) -> String {
        let mut s = format!("{}\n\n| model |", self.title);
        for st in &self.streams {
            s.push_str(&format!(" {st} |"));
        }
        s.push_str(" joint |\n|---|");
        for _ in 0..=self.streams.len() {
            s.push_str("---|");
        }
        s.push('\n');
        let cell = |c: &Score| format!(" {:.3} [{:.3}, {:.3}] |", c.map50, c.lo, c.hi);
        for r in &self.rows {
            s.push_str(&format!("| {} |", r.model));
            for c in &r.scores {
                s.push_str(&cell(c));
            }
            s.push_str(&cell(&r.joint));
            s.push('\n');
        }
        for n in &self.notes {
            s.push_str(&format!("\n{n}\n"));
        }
        s
    }
}

struct Eval {
    sets: Vec<Vec<Frame>>,
    joint: Vec<Frame>,
}

impl Eval {
    fn new(o: &AggOptions, w: usize, h: usize) -> Result<Eval> {
        let mut sets = Vec::new();
        let mut joint = Vec::new();
        for &s in &o.streams {
            let frames = HeldOut::new(s, o.eval_frames).render(w, h)?;
            let base = joint.len() as u64;
            joint.extend(frames.iter().cloned().map(|mut f| {
                f.index += base;
                f
            }));
            sets.push(frames);
        }
        Ok(Eval { sets, joint })
    }

    fn score(frames: &[Frame], m: &Detector) -> Result<Score> {
        let r = evaluate_with_ci(&ground_truth(frames), &predict(m, frames, 64)?);
        let ci = r.ci95.expect("asked for").map50;
        Ok(Score {
            map50: r.map50,
            lo: ci.lo,
            hi: ci.hi,
        })
    }

    fn row(&self, name: &str, m: &Detector) -> Result<Row> {
        Ok(Row {
            model: name.to_string(),
            scores: self
                .sets
                .iter()
                .map(|f| Self::score(f, m))
                .collect::<Result<_>>()?,
            joint: Self::score(&self.joint, m)?,
        })
    }
}

fn load(o: &AggOptions, name: &str) -> Result<Detector> {
    Ok(checkpoint::load(&o.models_dir.join(format!("{name}.safetensors")), o.device)?.0)
}

/// Each stream's training frames and the global model's labels of them.
fn training(o: &AggOptions, global: &Detector) -> Result<Vec<(Vec<Frame>, Vec<Labelled>)>> {
    let lab = TorchLabeller::new(global);
    let req = LabelRequest {
        min_score: o.min_score as f32,
        feature_layer: None,
    };
    o.streams
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let frames = FramePool::new(s, o.seed + i as u64).sample(o.frames);
            let labels = lab.label(&frames, &req)?;
            Ok((frames, labels))
        })
        .collect()
}

/// Table 2 (see the module doc).
pub fn table2(o: &AggOptions) -> Result<AggTable> {
    let global = load(o, "global")?;
    let mut notes = Vec::new();
    let hetero: Vec<Detector> = ["M1", "M2", "M3"]
        .iter()
        .map(|n| load(o, n))
        .collect::<Result<_>>()?;
    let refs: Vec<(&Detector, usize)> = hetero.iter().map(|m| (m, 1)).collect();
    match fedavg_detectors(&refs, "M1+M2+M3") {
        Ok(_) => notes.push("FedAvg of M1 + M2 + M3 was NOT refused (a bug).".into()),
        Err(e) => notes.push(format!("FedAvg of M1 + M2 + M3 is refused: {e}")),
    }
    let base = load(o, "terminal")?;
    let [_, h, w] = base.input_chw();
    let eval = Eval::new(o, w, h)?;
    let data = training(o, &global)?;
    let mut rows = vec![eval.row("terminal base (before)", &base)?];
    let mut trained = Vec::new();
    for (i, (&s, (frames, labels))) in o.streams.iter().zip(&data).enumerate() {
        let mut m = copy_model(&base, &format!("terminal-{}", s.name()))?;
        distill(
            &mut m,
            frames,
            labels,
            &DistillConfig {
                steps: o.steps,
                batch: o.batch,
                lr: o.lr,
                peak_thresholds: vec![o.min_score],
                soft: false,
                augment: false,
                seed: o.seed + 10 + i as u64,
                context: format!("table 2, stream {}", s.name()),
            },
        )?;
        rows.push(eval.row(&format!("terminal distilled on {}", s.name()), &m)?);
        trained.push(m);
    }
    let refs: Vec<(&Detector, usize)> = trained
        .iter()
        .zip(&data)
        .map(|(m, d)| (m, d.0.len()))
        .collect();
    let avg = fedavg_detectors(&refs, "terminal-avg")?;
    rows.push(eval.row("FedAvg of the distilled terminals", &avg)?);
    Ok(AggTable {
        title: format!(
            "Table 2: averaging terminals. {} training frames per stream, {} distillation \
             steps; mAP@0.5 [95 % interval] on {} held-out frames per stream.",
            o.frames, o.steps, o.eval_frames
        ),
        streams: o.streams.iter().map(|s| s.name().to_string()).collect(),
        rows,
        notes,
    })
}

/// Table 3 (see the module doc).
pub fn table3(o: &AggOptions) -> Result<AggTable> {
    let global = load(o, "global")?;
    let partner = load(o, "terminal")?;
    let [_, h, w] = global.input_chw();
    let eval = Eval::new(o, w, h)?;
    let data = training(o, &global)?;
    let mut rows = vec![eval.row("global (before)", &global)?];
    let mut notes = Vec::new();
    for with_gen in [false, true] {
        let tag = if with_gen { "with" } else { "without" };
        let mut mids: Vec<Detector> = o
            .streams
            .iter()
            .map(|s| copy_model(&global, &format!("mid-{}", s.name())))
            .collect::<Result<_>>()?;
        let counts: Vec<Vec<usize>> = data
            .iter()
            .map(|d| class_counts(&d.1, CLASSES.len()))
            .collect();
        let (prior, _) = class_prior(&counts);
        let gen = if with_gen {
            let heads = mids.iter().map(Head::of).collect::<Result<Vec<_>>>()?;
            tch::manual_seed(o.seed as i64 + 77);
            let mut g = Generator::new(16, 64, heads[0].latent_dim(), CLASSES.len(), o.device);
            let r = train_generator(
                &mut g,
                &heads,
                &counts,
                &GenConfig {
                    steps: 300,
                    batch: 64,
                    lr: 1e-2,
                    diversity: 1.0,
                    seed: o.seed + 78,
                },
            )?;
            notes.push(format!(
                "generator: its samples classified as their labels by the heads: {:?}",
                r.accuracy
                    .iter()
                    .map(|a| format!("{a:.2}"))
                    .collect::<Vec<_>>()
            ));
            Some(g)
        } else {
            None
        };
        let mut best: Option<(String, f64)> = None;
        for (i, (mid, (frames, labels))) in mids.iter_mut().zip(&data).enumerate() {
            let s = o.streams[i];
            let mut local = copy_model(&partner, &format!("terminal-{}", s.name()))?;
            train_pair(
                &mut local,
                mid,
                frames,
                labels,
                gen.as_ref().map(|g| (g, prior.as_slice())),
                &PairConfig {
                    steps: o.steps,
                    batch: o.batch,
                    lr: o.lr / 3.0,
                    alpha: 0.5,
                    beta: 0.8,
                    mu: o.mu,
                    samples: if with_gen { 16 } else { 0 },
                    feature: 0.0,
                    terminal: 0.0,
                    labels: PairLabels::Soft,
                    freeze_mid_bn: true,
                    peak_thresholds: vec![o.min_score],
                    replay: 0,
                    seed: o.seed + 20 + i as u64,
                    context: format!("table 3, stream {}", s.name()),
                },
            )?;
            let r = eval.row(
                &format!("intermediate on {} ({tag} generator)", s.name()),
                mid,
            )?;
            if best.as_ref().is_none_or(|b| r.joint.map50 > b.1) {
                best = Some((r.model.clone(), r.joint.map50));
            }
            rows.push(r);
        }
        let refs: Vec<(&Detector, usize)> = mids
            .iter()
            .zip(&data)
            .map(|(m, d)| (m, d.0.len()))
            .collect();
        let avg = fedavg_detectors(&refs, "global")?;
        let r = eval.row(
            &format!("FedAvg of the intermediates ({tag} generator)"),
            &avg,
        )?;
        let (bn, bv) = best.expect("streams");
        notes.push(format!(
            "{tag} generator: the average scores {:.3} on the joint frames against {:.3} for the \
             best single intermediate ({bn}): a loss of {:.3}",
            r.joint.map50,
            bv,
            bv - r.joint.map50
        ));
        rows.push(r);
    }
    Ok(AggTable {
        title: format!(
            "Table 3: averaging intermediates trained on different streams. {} training frames \
             per stream, {} mutual-learning steps (mu = {}); mAP@0.5 [95 % interval] on {} \
             held-out frames per stream.",
            o.frames, o.steps, o.mu, o.eval_frames
        ),
        streams: o.streams.iter().map(|s| s.name().to_string()).collect(),
        rows,
        notes,
    })
}
