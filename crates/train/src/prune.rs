//! L1-norm structured channel pruning (Li et al. 2017): each inner conv keeps the output
//! channels whose filters have the largest L1 norms, and the layers reading it keep the
//! matching input channels, so the pruned network is again a plain description.
//!
//! Channel counts must agree across `add` (both operands), `flatten`/`linear` (features are
//! positions) and grouped convs, so convs feeding those are left whole; `concat` is fine, it
//! only shifts indices. Heads keep their channels (classes, box size, offset).

use super::detector::Detector;
use super::error::{Result, TrainError};
use nestevo_core::check;
use nestevo_core::error::Context;
use nestevo_model::{ModelDesc, Op};
use std::collections::HashSet;
use tch::{Kind, Tensor};

/// Returns a new detector named `name` with `ratio` (0..1) of each prunable conv's output
/// channels removed, weights copied from `model`.
pub fn prune(model: &Detector, ratio: f64, name: &str) -> Result<Detector> {
    check!(
        (0.0..1.0).contains(&ratio),
        "pruning ratio must be in [0, 1), got {ratio}"
    );
    let desc = &model.desc;
    let shapes = desc
        .shapes()
        .map_err(TrainError::from)
        .ctx(|| format!("model description {}", desc.source))?;
    let fixed = fixed_convs(desc);
    let vars = model.vs.variables();
    let var = |layer: &str, what: &str| {
        vars.get(&format!("{layer}.{what}")).ok_or_else(|| {
            TrainError::Invalid(format!("model {}: no variable {layer}.{what}", desc.name))
        })
    };
    let in_channels = |l: usize| -> Vec<i64> {
        match desc.layers[l].inputs.first().map(String::as_str) {
            Some("input") | None => (0..desc.input[0] as i64).collect(),
            Some(n) => (0..shapes[desc.index_of(n).expect("resolved")][0] as i64).collect(),
        }
    };
    // keep[i]: the original output channels of layer i that survive.
    let mut keep: Vec<Vec<i64>> = Vec::with_capacity(desc.layers.len());
    let mut new_desc = desc.clone();
    for (i, l) in desc.layers.iter().enumerate() {
        let from = |n: &str| -> Vec<i64> {
            match n {
                "input" => (0..desc.input[0] as i64).collect(),
                _ => keep[desc.index_of(n).expect("resolved")].clone(),
            }
        };
        let k = match &l.op {
            Op::Conv { out_channels, .. } if !fixed.contains(&i) => {
                let n_keep = ((*out_channels as f64) * (1.0 - ratio)).round().max(1.0) as i64;
                let w = var(&l.name, "weight")?;
                let norms =
                    w.detach()
                        .abs()
                        .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
                let (_, idx) = norms.topk(n_keep, 0, true, true);
                let mut idx = Vec::<i64>::try_from(idx.to_device(tch::Device::Cpu))?;
                idx.sort_unstable();
                if let Op::Conv { out_channels, .. } = &mut new_desc.layers[i].op {
                    *out_channels = n_keep as usize;
                }
                idx
            }
            Op::Conv { .. } | Op::Linear { .. } | Op::Flatten => (0..shapes[i][0] as i64).collect(),
            Op::Concat => {
                let mut all = Vec::new();
                let mut offset = 0i64;
                for n in &l.inputs {
                    all.extend(from(n).iter().map(|c| c + offset));
                    offset += match n.as_str() {
                        "input" => desc.input[0],
                        _ => shapes[desc.index_of(n).expect("resolved")][0],
                    } as i64;
                }
                all
            }
            _ => from(&l.inputs[0]),
        };
        keep.push(k);
    }
    new_desc.name = name.to_string();
    new_desc.source = format!(
        "{name} (pruned {:.0} % from {})",
        ratio * 100.0,
        desc.source
    );
    let pruned = Detector::new(&new_desc, model.classes, model.vs.device())?;
    let new_vars = pruned.vs.variables();
    let _guard = tch::no_grad_guard();
    for (i, l) in desc.layers.iter().enumerate() {
        let keep_in = match l.inputs.first().map(String::as_str) {
            Some("input") | None => in_channels(i),
            Some(n) => keep[desc.index_of(n).expect("resolved")].clone(),
        };
        let sel = |t: &Tensor, dim: i64, idx: &[i64]| {
            t.index_select(dim, &Tensor::from_slice(idx).to_device(t.device()))
        };
        let copy = |what: &str, value: Tensor| -> Result<()> {
            let mut dst = new_vars
                .get(&format!("{}.{what}", l.name))
                .ok_or_else(|| {
                    TrainError::Invalid(format!(
                        "pruned model {name}: no variable {}.{what}",
                        l.name
                    ))
                })?
                .shallow_clone();
            dst.copy_(&value);
            Ok(())
        };
        match &l.op {
            Op::Conv { bias, .. } => {
                let w = sel(&sel(var(&l.name, "weight")?, 0, &keep[i]), 1, &keep_in);
                copy("weight", w)?;
                if *bias {
                    copy("bias", sel(var(&l.name, "bias")?, 0, &keep[i]))?;
                }
            }
            Op::Linear { bias, .. } => {
                copy("weight", var(&l.name, "weight")?.copy())?;
                if *bias {
                    copy("bias", var(&l.name, "bias")?.copy())?;
                }
            }
            Op::BatchNorm => {
                for what in ["weight", "bias", "running_mean", "running_var"] {
                    copy(what, sel(var(&l.name, what)?, 0, &keep_in))?;
                }
            }
            _ => {}
        }
    }
    Ok(pruned)
}

/// Convs whose output channels must all stay: heads, and those whose channels reach an add,
/// a flatten/linear or a grouped conv through channel-preserving layers.
fn fixed_convs(desc: &ModelDesc) -> HashSet<usize> {
    let mut fixed: HashSet<usize> = desc
        .outputs
        .iter()
        .filter_map(|n| desc.index_of(n))
        .collect();
    let mut stack: Vec<usize> = Vec::new();
    for l in &desc.layers {
        let strict = match &l.op {
            Op::Add | Op::Flatten | Op::Linear { .. } => true,
            Op::Conv { groups, .. } => *groups > 1,
            _ => false,
        };
        if strict {
            stack.extend(l.inputs.iter().filter_map(|n| desc.index_of(n)));
        }
    }
    let mut seen = HashSet::new();
    while let Some(j) = stack.pop() {
        if !seen.insert(j) {
            continue;
        }
        let l = &desc.layers[j];
        match &l.op {
            Op::Conv { .. } => {
                fixed.insert(j);
            }
            Op::Linear { .. } => {}
            _ => stack.extend(l.inputs.iter().filter_map(|n| desc.index_of(n))),
        }
    }
    fixed
}
