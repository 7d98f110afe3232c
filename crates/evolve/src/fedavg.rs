//! FedAvg (McMahan et al. 2017) of the intermediate models, weighted by frame counts:
//! `W = sum_k (n_k / sum_j n_j) W_k` for every tensor of the models.
//!
//! Batch-norm statistics: the running means and variances are averaged with the same weights
//! as the weights (what averaging a PyTorch `state_dict` does). The pooled variance of the
//! mixture would add the spread of the means, but the averaged network's activations are
//! neither model's anyway; the new global model is then distilled and scored like any other,
//! so the plain average is kept and stated.
//!
//! Models must have the same tensors with the same shapes: averaging terminals pruned to
//! different widths is refused with the tensor whose shapes differ (the paper's Table 2: a
//! parameter-wise average of heterogeneous models is meaningless, hence its intermediates).

use super::error::{EvolveError, Result};
use std::collections::BTreeMap;

/// A model's tensors by name: shape and row-major values.
pub type Params = BTreeMap<String, (Vec<i64>, Vec<f32>)>;

/// The weights n_k / sum n_j; every count must be known and their sum positive.
pub fn weights(counts: &[usize]) -> Result<Vec<f64>> {
    let total: usize = counts.iter().sum();
    if counts.is_empty() || total == 0 {
        return Err(EvolveError::FedAvg(format!(
            "needs at least one model with frames; frame counts {counts:?}"
        )));
    }
    Ok(counts.iter().map(|&n| n as f64 / total as f64).collect())
}

/// Checks that every model has the first model's tensor names and shapes.
pub fn check_compatible(models: &[(&str, BTreeMap<String, Vec<i64>>)]) -> Result<()> {
    let Some((first, shapes)) = models.first() else {
        return Err(EvolveError::FedAvg("no models to average".into()));
    };
    for (name, other) in &models[1..] {
        for (t, s) in shapes {
            match other.get(t) {
                None => {
                    return Err(EvolveError::FedAvg(format!(
                        "model {name} has no tensor `{t}` (model {first} has it, shape {s:?}): \
                         only models of one architecture can be averaged"
                    )))
                }
                Some(o) if o != s => {
                    return Err(EvolveError::FedAvg(format!(
                        "tensor `{t}` has shape {o:?} in model {name} but {s:?} in model \
                         {first}: models of different widths (e.g. pruned differently) cannot \
                         be averaged parameter by parameter; average intermediates of the \
                         global model's architecture instead"
                    )))
                }
                Some(_) => {}
            }
        }
        if let Some(t) = other.keys().find(|t| !shapes.contains_key(*t)) {
            return Err(EvolveError::FedAvg(format!(
                "model {name} has a tensor `{t}` that model {first} lacks: only models of one \
                 architecture can be averaged"
            )));
        }
    }
    Ok(())
}

/// The weighted average of `models` (name, tensors), weights from `counts`.
pub fn average(models: &[(&str, &Params)], counts: &[usize]) -> Result<Params> {
    if models.len() != counts.len() {
        return Err(EvolveError::FedAvg(format!(
            "{} models but {} frame counts",
            models.len(),
            counts.len()
        )));
    }
    let shapes: Vec<(&str, BTreeMap<String, Vec<i64>>)> = models
        .iter()
        .map(|(n, p)| {
            (
                *n,
                p.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect(),
            )
        })
        .collect();
    check_compatible(&shapes)?;
    let w = weights(counts)?;
    let mut out = Params::new();
    for (t, (shape, first)) in models[0].1 {
        let mut acc = vec![0f64; first.len()];
        for ((_, p), wk) in models.iter().zip(&w) {
            for (a, &x) in acc.iter_mut().zip(&p[t].1) {
                *a += wk * x as f64;
            }
        }
        out.insert(
            t.clone(),
            (shape.clone(), acc.into_iter().map(|a| a as f32).collect()),
        );
    }
    Ok(out)
}

#[cfg(feature = "torch")]
pub use with_torch::{fedavg_detectors, params_of};

#[cfg(feature = "torch")]
mod with_torch {
    use super::*;
    use nestevo_train::detector::Detector;
    use tch::{Kind, Tensor};

    /// Every variable of a detector (weights and batch-norm statistics) by name.
    pub fn params_of(d: &Detector) -> Params {
        d.vs.variables()
            .into_iter()
            .map(|(k, t)| {
                let v = Vec::<f32>::try_from(
                    t.detach()
                        .to_device(tch::Device::Cpu)
                        .to_kind(Kind::Float)
                        .contiguous()
                        .reshape(-1),
                )
                .expect("f32 tensor");
                (k, (t.size(), v))
            })
            .collect()
    }

    /// FedAvg of detectors of one architecture into a new detector named `name` (the first
    /// model's description, renamed), weighted by `counts`.
    pub fn fedavg_detectors(models: &[(&Detector, usize)], name: &str) -> Result<Detector> {
        let params: Vec<(String, Params)> = models
            .iter()
            .map(|(d, _)| (d.desc.name.clone(), params_of(d)))
            .collect();
        let refs: Vec<(&str, &Params)> = params.iter().map(|(n, p)| (n.as_str(), p)).collect();
        let counts: Vec<usize> = models.iter().map(|m| m.1).collect();
        let avg = average(&refs, &counts)?;
        let first = models[0].0;
        let mut desc = first.desc.clone();
        desc.name = name.to_string();
        let out = Detector::new(&desc, first.classes, first.vs.device())?;
        let vars = out.vs.variables();
        let _guard = tch::no_grad_guard();
        for (k, (shape, v)) in &avg {
            let mut dst = vars
                .get(k)
                .ok_or_else(|| {
                    EvolveError::FedAvg(format!("the averaged model has no tensor `{k}`"))
                })?
                .shallow_clone();
            dst.copy_(&Tensor::from_slice(v).reshape(shape.as_slice()));
        }
        Ok(out)
    }
}
