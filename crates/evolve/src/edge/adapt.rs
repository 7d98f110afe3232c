//! A1: gradient-reversal domain adaptation of each terminal, labelled source frames against
//! its unlabelled upload.

use super::window::{Strategy, Window};
use super::{seed_of, Edge};
use crate::adapt::{adapt, AdaptConfig};
use crate::error::Result;
use crate::schedule::Stage;
use nestevo_sched::JobKind;

pub(super) struct Adapt;

impl Strategy for Adapt {
    fn run(&self, edge: &mut Edge, win: &mut Window<'_>) -> Result<()> {
        let (e, w) = (win.e, win.w);
        edge.draw_source();
        let source = edge.source.as_ref().expect("drawn");
        let n = win.uploads.len();
        let mut jobs = Vec::with_capacity(n);
        for j in 0..n {
            let k = win.ks[j];
            let rep = adapt(
                &mut edge.terminals[k].model,
                source,
                &win.uploads[j].frames,
                &AdaptConfig {
                    steps: e.distill.steps,
                    batch: e.distill.batch,
                    lr: e.distill.lr,
                    layer: e.drift.layer.clone(),
                    seed: seed_of(e.seed, w, k, 5),
                    context: format!("window {w}, terminal {}", win.uploads[j].terminal),
                },
            )?;
            let t = &win.uploads[j].terminal;
            let wk = win.work_of(
                &[&edge.terminals[k].model.desc],
                win.uploads[j].frames.len(),
                e.distill.steps,
                e.distill.batch,
            )?;
            jobs.push(win.job(
                format!("adapt-{t}"),
                JobKind::Other,
                Some(t),
                wk,
                rep.seconds,
            ));
            win.losses[j] = (rep.det_last, rep.domain_last);
        }
        win.stages.push(Stage::Jobs {
            name: "adapt".into(),
            jobs,
        });
        Ok(())
    }
}
