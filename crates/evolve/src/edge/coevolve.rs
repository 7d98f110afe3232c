//! Co-evolution (Algorithm 2): one intermediate per terminal (its own from the last window
//! with `mutual.persist`, else a copy of the global model), the label-conditioned generator
//! trained on their heads (skipped for A2), one mutual-learning pair per terminal, FedAvg of
//! the intermediates into the new global model (its batch-norm statistics re-estimated on the
//! uploads and source frames with `mutual.reestimate_bn`; the labeller reprogrammed), every
//! upload relabelled by it, then each terminal distilled from the new labels.
//!
//! With persistent intermediates the generator learns from models that have each followed
//! their own terminal's frames since they were made, so their heads disagree where their data
//! did (FedGen's setting); copies of one global model would all answer alike.

use super::window::{Strategy, Window};
use super::{distill_job, seed_of, Edge};
use crate::coevolve::{
    box_latent_norm, class_counts, copy_model, pair_priors, relative_distance,
    train_pair_with_replay, PairConfig,
};
use crate::compress;
use crate::config::BnFrames;
use crate::error::Result;
use crate::fedavg::fedavg_detectors;
use crate::generator::{train_generator, GenConfig, Generator, Head};
use crate::jobs::generator_work;
use crate::schedule::Stage;
use nestevo_data::{Frame, CLASSES};
use nestevo_eval::{evaluate, ground_truth};
use nestevo_sched::JobKind;
use nestevo_train::detector::Detector;
use nestevo_train::evaluate::predict;
use std::time::Instant;

pub(super) struct CoEvolve {
    /// Train the generator (false: A2).
    pub generator: bool,
}

impl Strategy for CoEvolve {
    fn run(&self, edge: &mut Edge, win: &mut Window<'_>) -> Result<()> {
        let (e, w) = (win.e, win.w);
        let uploads = win.uploads;
        let n = uploads.len();
        let gname = edge.global.desc.name.clone();
        let mut mids = Vec::with_capacity(n);
        for (j, u) in uploads.iter().enumerate() {
            let kept = match e.mutual.persist {
                true => edge.mids[win.ks[j]].take(),
                false => None,
            };
            mids.push(match kept {
                Some(m) => m,
                None => copy_model(&edge.global, &format!("{gname}-mid-{}", u.terminal))?,
            });
        }
        let counts: Vec<Vec<usize>> = win
            .labels
            .iter()
            .map(|l| class_counts(l, CLASSES.len()))
            .collect();
        let all: usize = counts.iter().flatten().sum();
        let gen = if self.generator && all > 0 {
            let t = Instant::now();
            let heads = mids.iter().map(Head::of).collect::<Result<Vec<_>>>()?;
            // The generator's initial weights come from LibTorch's generator: seed it so that a
            // resumed run starts from the same ones.
            tch::manual_seed(seed_of(e.seed, w, 0, 6) as i64);
            let mut g = Generator::new(
                e.generator.noise_dim,
                e.generator.hidden,
                heads[0].latent_dim(),
                CLASSES.len(),
                edge.global.vs.device(),
            );
            if e.generator.match_norm {
                // Each intermediate on its own training frames, frame-weighted; its forward
                // passes count in the generator job's time.
                let (mut sum, mut weight) = (0.0, 0usize);
                for (j, m) in mids.iter().enumerate() {
                    if let Some(r) = box_latent_norm(m, &uploads[j].frames, &win.labels[j])? {
                        sum += r * uploads[j].frames.len() as f64;
                        weight += uploads[j].frames.len();
                    }
                }
                // Without a box anywhere there is no scale to match: the samples stay free.
                if weight > 0 {
                    g = g.with_norm(sum / weight as f64)?;
                }
            }
            let rep = train_generator(
                &mut g,
                &heads,
                &counts,
                &GenConfig {
                    steps: e.generator.steps,
                    batch: e.generator.batch,
                    lr: e.generator.lr,
                    diversity: e.generator.diversity,
                    seed: seed_of(e.seed, w, 0, 3),
                },
            )?;
            win.generator_accuracy = rep.accuracy;
            win.generator_loss = Some((rep.first_loss, rep.last_loss));
            win.generator_latent_norm = Some(rep.latent_norm);
            let wk = generator_work(
                heads[0].latent_dim(),
                heads.len(),
                e.generator.steps,
                e.generator.batch,
            );
            let job = win.job(
                "generator".into(),
                JobKind::Generator,
                None,
                wk,
                t.elapsed().as_secs_f64(),
            );
            win.stages.push(Stage::Jobs {
                name: "generator".into(),
                jobs: vec![job],
            });
            Some(g)
        } else {
            None
        };
        if e.mutual.replay > 0 || e.mutual.reestimate_bn {
            edge.draw_source();
        }
        let source: &[Frame] = edge.source.as_deref().unwrap_or(&[]);
        let mut pairs = Vec::with_capacity(n);
        // Each pair's sample classes: the pooled shares, or its own terminal's.
        let priors = pair_priors(&counts, e.generator.sample_labels);
        for j in 0..n {
            let k = win.ks[j];
            let d0 = relative_distance(&mids[j], &edge.global)?;
            // Adaptive compression (`[compress]`): the pair trains on the pooled set.
            let (cf, cl, share) = if e.compress.enabled {
                let (f, l, c) = compress::compress(&e.compress, &uploads[j].frames, &win.labels[j]);
                (Some(f), Some(l), c.whole_share())
            } else {
                (None, None, 1.0)
            };
            let rep = train_pair_with_replay(
                &mut edge.terminals[k].model,
                &mut mids[j],
                cf.as_deref().unwrap_or(&uploads[j].frames),
                cl.as_deref().unwrap_or(&win.labels[j]),
                gen.as_ref().map(|g| (g, priors[j].as_slice())),
                source,
                &PairConfig {
                    steps: e.mutual.steps,
                    batch: e.mutual.batch,
                    lr: e.mutual.lr,
                    alpha: e.mutual.alpha,
                    beta: e.mutual.beta,
                    mu: e.mutual.mu,
                    samples: e.generator.samples,
                    feature: e.generator.feature,
                    terminal: e.generator.terminal,
                    labels: e.mutual.labels,
                    freeze_mid_bn: e.mutual.freeze_bn,
                    peak_thresholds: e.pseudo_thresholds(),
                    replay: e.mutual.replay,
                    seed: seed_of(e.seed, w, k, 4),
                    context: format!("window {w}, terminal {}", uploads[j].terminal),
                },
            )?;
            win.mid_distance[j] = Some((d0, relative_distance(&mids[j], &edge.global)?));
            win.pairs[j] = Some(rep.clone());
            let t = &uploads[j].terminal;
            let mut wk = win.work_of(
                &[&edge.terminals[k].model.desc, &mids[j].desc],
                uploads[j].frames.len(),
                e.mutual.steps,
                e.mutual.batch,
            )?;
            let scale = share + (1.0 - share) / 4.0;
            wk.act_per_frame *= scale;
            wk.macs_per_frame *= scale;
            pairs.push(win.job(
                format!("pair-{t}"),
                JobKind::Mutual,
                Some(t),
                wk,
                rep.seconds,
            ));
        }
        win.stages.push(Stage::Jobs {
            name: "pairs".into(),
            jobs: pairs,
        });
        // A diagnostic outside the timed stages: each intermediate on the others' uploads.
        win.mid_map50_others = cross_map50(&mids, uploads)?;
        // FedAvg, reprogram the labeller, relabel every upload, then distil.
        let t = Instant::now();
        let weighted: Vec<(&Detector, usize)> = mids
            .iter()
            .zip(uploads)
            .map(|(m, u)| (m, u.frames.len()))
            .collect();
        edge.global = fedavg_detectors(&weighted, &gname)?;
        if e.mutual.reestimate_bn {
            reestimate(&edge.global, uploads, source, e.mutual.bn_frames)?;
        }
        if e.mutual.persist {
            for (j, m) in mids.into_iter().enumerate() {
                edge.mids[win.ks[j]] = Some(m);
            }
        }
        edge.global_version += 1;
        edge.labeller = (edge.factory)(&edge.global, edge.global_version)?;
        win.global_updated = true;
        let mut shared = t.elapsed().as_secs_f64();
        // Writing the new weights onto a chip takes its (modelled) time.
        if let Some(c) = edge.labeller.program_cost() {
            shared += c.seconds;
            edge.program_energy_j += c.energy_j;
        }
        let mut relabels = Vec::with_capacity(n);
        for u in uploads {
            let (l, s) = edge.label_training(&u.frames, false)?;
            shared += s;
            relabels.push(l);
        }
        win.stages.push(Stage::Serial {
            name: "fedavg+relabel".into(),
            seconds: shared,
        });
        let mut jobs = Vec::with_capacity(n);
        for (j, l) in relabels.iter().enumerate() {
            let k = win.ks[j];
            let (rep, sj) = distill_job(
                &mut edge.terminals[k].model,
                &uploads[j],
                l,
                &win.distill_cfg(j, 2),
                e,
                &win.mem,
            )?;
            jobs.push(sj);
            win.losses[j] = (rep.first_loss, rep.last_loss);
        }
        win.stages.push(Stage::Jobs {
            name: "distill".into(),
            jobs,
        });
        Ok(())
    }
}

/// The global model's batch-norm statistics from the window's uploads (every terminal's
/// frames) and as many source frames as one terminal's share (the data the average now
/// serves), or from the source frames alone.
fn reestimate(
    global: &Detector,
    uploads: &[super::TerminalUpload],
    source: &[Frame],
    on: BnFrames,
) -> Result<()> {
    if on == BnFrames::Source {
        return super::reestimate_bn_on(global, source.iter());
    }
    let ups = uploads.iter().flat_map(|u| u.frames.iter());
    let share = (uploads.iter().map(|u| u.frames.len()).sum::<usize>() / uploads.len().max(1))
        .min(source.len());
    super::reestimate_bn_on(global, ups.chain(source.iter().take(share)))
}

/// mAP@0.5 of each intermediate on every other upload's frames (their ground truth), averaged
/// over the other uploads that carry any; `None` with a single upload or without ground truth.
fn cross_map50(mids: &[Detector], uploads: &[super::TerminalUpload]) -> Result<Vec<Option<f64>>> {
    let scored: Vec<bool> = uploads
        .iter()
        .map(|u| u.frames.iter().any(|f| !f.boxes.is_empty()))
        .collect();
    mids.iter()
        .enumerate()
        .map(|(j, m)| {
            let mut maps = Vec::new();
            for (i, u) in uploads.iter().enumerate() {
                if i != j && scored[i] {
                    let dets = predict(m, &u.frames, 64)?;
                    maps.push(evaluate(&ground_truth(&u.frames), &dets).map50);
                }
            }
            Ok((!maps.is_empty()).then(|| maps.iter().sum::<f64>() / maps.len() as f64))
        })
        .collect()
}
