#![cfg(feature = "torch")]
//! `pretrain --preset smoke` end to end: every model's loss falls, the trained detectors beat
//! untrained ones, M1/M2/M3 are smaller than the base, and resuming skips finished models.

use nestevo_train::pretrain::{run, Preset, PretrainOptions};
use std::path::PathBuf;

#[test]
fn smoke_preset_learns_and_resumes() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = PretrainOptions {
        preset: Preset::Smoke,
        models_dir: PathBuf::from("models"),
        out: dir.path().to_path_buf(),
        seed: 0,
        device: tch::Device::Cpu,
        progress: false,
        resume: false,
        overrides: Default::default(),
    };
    let r = run(&opts).unwrap();
    for m in &r.rows {
        eprintln!("{m:?}");
    }
    let names: Vec<&str> = r.rows.iter().map(|m| m.model.as_str()).collect();
    assert_eq!(names, ["global", "terminal", "M1", "M2", "M3"]);
    for m in &r.rows {
        assert!(
            m.last_loss < m.first_loss,
            "{}: loss {} -> {}",
            m.model,
            m.first_loss,
            m.last_loss
        );
        assert!(m.map50_source.is_finite() && m.map50_d.is_finite() && m.map50_e.is_finite());
    }
    for m in &r.rows[..2] {
        assert!(
            m.map50_source > m.untrained_map50 + 0.02,
            "{}: mAP@0.5 {} after training, {} untrained",
            m.model,
            m.map50_source,
            m.untrained_map50
        );
    }
    assert!(r.rows[2].params < r.rows[1].params && r.rows[4].params < r.rows[3].params);
    for name in ["global", "terminal", "M1", "M2", "M3"] {
        for ext in ["safetensors", "toml", "state.json"] {
            assert!(
                dir.path().join(format!("{name}.{ext}")).is_file(),
                "{name}.{ext}"
            );
        }
    }
    assert!(dir.path().join("pretrain.json").is_file());
    // Resuming a finished run trains nothing and scores the same weights.
    opts.resume = true;
    let again = run(&opts).unwrap();
    assert_eq!(again.rows[0].map50_source, r.rows[0].map50_source);
    assert!(again.total_s < r.total_s);
}
