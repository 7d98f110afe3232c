//! `nestevo cim run --model NET --inputs X.npy --out DIR`: any network on given inputs.

use super::cim_run_args::RunArgs;
use anyhow::{Context, Result};
use ndarray::ArrayD;
use ndarray_npy::{read_npy, write_npy};
use nestevo_arch::ArchSpec;
use nestevo_cim::NoiseSpec;
use nestevo_core::error::write_atomic;
use nestevo_couple::generic::{
    as_frames, output_layout, render_generic, run_generic, GenericConfig,
};
use nestevo_model::onnx::load_network;
use std::path::Path;

fn read_f32(p: &Path, flag: &str) -> Result<ArrayD<f32>> {
    read_npy(p).with_context(|| format!("{flag} {}: expected a float32 .npy file", p.display()))
}

pub fn run(a: RunArgs, spec: ArchSpec, noise: NoiseSpec) -> Result<()> {
    let model = a
        .model
        .as_deref()
        .context("--model is required with --inputs")?;
    let inputs = a.inputs.as_deref().context("--inputs")?;
    let out = a
        .out
        .as_deref()
        .context("--out DIR is required with --inputs")?;
    let (desc, tensors) = load_network(model, a.checkpoint.as_deref())?;
    let x = as_frames(
        read_f32(inputs, "--inputs")?,
        desc.input,
        &format!("--inputs {}", inputs.display()),
    )?;
    let calib = match &a.calib {
        Some(c) => as_frames(
            read_f32(c, "--calib")?,
            desc.input,
            &format!("--calib {}", c.display()),
        )?,
        None => x.clone(),
    };
    let run = GenericConfig {
        noise,
        backend: a.backend.get()?,
        batch: a.batch,
    };
    let r = run_generic(&desc, &tensors, &spec, x.view(), calib.view(), &run)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let several = desc.outputs.len() > 1;
    for (k, name) in desc.outputs.iter().enumerate() {
        for (kind, y) in [("float", &r.float[k]), ("cim", &r.cim[k])] {
            let file = if several {
                format!("{kind}_{name}.npy")
            } else {
                format!("{kind}.npy")
            };
            let path = out.join(&file);
            let tmp = out.join(format!(".tmp-{file}"));
            write_npy(&tmp, &output_layout(&desc, name, y))
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let json = serde_json::to_string_pretty(&r.report)?;
    write_atomic(&out.join("report.json"), json.as_bytes())?;
    if a.json {
        println!("{json}");
    } else {
        print!("{}", render_generic(&r.report));
        println!(
            "wrote float/cim outputs and report.json to {}",
            out.display()
        );
    }
    Ok(())
}
