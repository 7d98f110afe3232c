//! The experiment file's optional `[labeller]` section: absent, files parse as before (LibTorch
//! labelling); present, every field is validated with the file, field, value and what is allowed.

use nestevo_evolve::config::{parse_experiment, LabellerKind, PRESETS};

fn smoke() -> String {
    PRESETS
        .iter()
        .find(|p| p.0 == "smoke")
        .unwrap()
        .1
        .to_string()
}

/// Without the section the labeller is LibTorch; with it, its fields are read.
#[test]
fn labeller_section_is_optional_and_read() {
    let e = parse_experiment(&smoke(), "smoke.toml").unwrap();
    assert_eq!(e.labeller.kind, LabellerKind::Torch);
    let text = smoke()
        + "\n[labeller]\nkind = \"cim\"\narch = \"isaac\"\nset = [\"adc.bits=7\"]\nnoise = \"cell\"\nmu = 0.01\nseed = 3\n";
    let e = parse_experiment(&text, "x.toml").unwrap();
    assert_eq!(e.labeller.kind, LabellerKind::Cim);
    assert_eq!(e.labeller.set, vec!["adc.bits=7".to_string()]);
    assert_eq!(
        (e.labeller.mu, e.labeller.seed, e.labeller.calib_frames),
        (0.01, 3, 16)
    );
}

/// A bad value names the file, the field, the value and what is allowed.
#[test]
fn labeller_section_errors_name_file_field_value() {
    for (body, field, value) in [
        ("kind = \"gpu\"", "labeller.kind", "gpu"),
        ("noise = \"loud\"", "labeller.noise", "loud"),
        ("noise = \"none\"\nmu = 0.1", "labeller.mu", "0.1"),
        ("noise = \"cell\"\nmu = 2.0", "labeller.mu", "2"),
        ("calib_frames = 0", "labeller.calib_frames", "0"),
        (
            "write = { row_write_ns = -1.0, cell_write_pj = 1.0 }",
            "labeller.write",
            "-1",
        ),
        ("colour = 1", "labeller", "colour"),
    ] {
        let text = smoke() + "\n[labeller]\n" + body + "\n";
        let msg = parse_experiment(&text, "x.toml").unwrap_err().to_string();
        for want in ["x.toml", field, value] {
            assert!(msg.contains(want), "{body}: `{msg}` lacks `{want}`");
        }
    }
}
