//! Distillation: the current global model (or, for A4, the original one) teaches each terminal
//! on its upload.

use super::window::{Strategy, Window};
use super::{distill_job, Edge};
use crate::error::Result;
use crate::schedule::Stage;

pub(super) struct Teach {
    /// The original global model teaches (A4), not the current one.
    pub original: bool,
}

impl Strategy for Teach {
    fn run(&self, edge: &mut Edge, win: &mut Window<'_>) -> Result<()> {
        let e = win.e;
        let n = win.uploads.len();
        let mut jobs = Vec::with_capacity(n);
        // Under A4 the global model never changes, so the current labels are the original
        // model's; relabel only if it did.
        let relabel = self.original && edge.global_version > 0;
        for j in 0..n {
            let teacher_labels = if relabel {
                edge.label_training(&win.uploads[j].frames, true)?.0
            } else {
                std::mem::take(&mut win.labels[j])
            };
            let k = win.ks[j];
            let (rep, sj) = distill_job(
                &mut edge.terminals[k].model,
                &win.uploads[j],
                &teacher_labels,
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
