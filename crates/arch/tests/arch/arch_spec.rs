//! The accelerator description loader: presets load, bad fields are named with their file,
//! value and what is allowed, and `--set` overrides work and reject unknown keys.

use nestevo_arch::{apply_overrides, load_arch, preset, PRESETS};
use std::io::Write;

fn isaac_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../arch/isaac.toml"
    ))
    .unwrap()
}

/// Writes the ISAAC file with one line replaced and loads it; returns the error text.
fn load_with(from: &str, to: &str) -> String {
    let text = isaac_text();
    assert!(text.contains(from), "{from}");
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.replacen(from, to, 1).as_bytes()).unwrap();
    let e = load_arch(f.path()).expect_err("must fail");
    let msg = e.to_string();
    assert!(
        msg.contains(&f.path().display().to_string()),
        "names the file: {msg}"
    );
    msg
}

#[test]
fn presets_load_with_isaac_numbers() {
    for (name, _) in PRESETS {
        preset(name).unwrap();
    }
    let s = load_arch(std::path::Path::new("isaac")).unwrap();
    assert_eq!(
        (s.crossbar.rows, s.crossbar.cols, s.crossbar.bits_per_cell),
        (128, 128, 2)
    );
    assert_eq!(
        (
            s.data.weight_bits,
            s.data.input_bits,
            s.dac.bits,
            s.adc.bits
        ),
        (16, 16, 1, 8)
    );
    assert!(s.encoding.flip);
    assert_eq!(s.max_column_sum(), 192);
    assert_eq!(s.lossless_adc_bits(), 8);
    assert_eq!(preset("isaac-noflip-9bit").unwrap().lossless_adc_bits(), 9);
}

#[test]
fn bad_fields_name_field_value_and_allowed() {
    let m = load_with("rows = 128", "rows = 0");
    assert!(
        m.contains("crossbar.rows") && m.contains("= 0") && m.contains("1..=4096"),
        "{m}"
    );
    let m = load_with("[adc]\nbits = 8", "[adc]\nbits = 17");
    assert!(
        m.contains("adc.bits") && m.contains("17") && m.contains("1..=16"),
        "{m}"
    );
    let m = load_with("weight_bits = 16", "weight_bits = 15");
    assert!(
        m.contains("data.weight_bits") && m.contains("15") && m.contains("multiple"),
        "{m}"
    );
    let m = load_with("cols = 128", "cols = 4");
    assert!(
        m.contains("crossbar.cols") && m.contains("4") && m.contains("slices per weight"),
        "{m}"
    );
    let m = load_with("g_max_us = 100.0", "g_max_us = 0.5");
    assert!(
        m.contains("crossbar.g_max_us") && m.contains("g_min"),
        "{m}"
    );
    let m = load_with("flip = true", "flip = 3");
    assert!(
        m.contains("encoding.flip") && m.contains("= 3") && m.contains("boolean"),
        "{m}"
    );
    let m = load_with("[encoding]", "[encoding]\nunknown_knob = 1");
    assert!(m.contains("unknown_knob"), "{m}");
}

#[test]
fn missing_file_and_unknown_preset() {
    let e = load_arch(std::path::Path::new("/no/such/arch.toml"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("/no/such/arch.toml") && e.contains("cannot read"),
        "{e}"
    );
    let e = preset("isaac-xl").err().unwrap().to_string();
    assert!(e.contains("isaac-noflip-9bit"), "lists the presets: {e}");
}

#[test]
fn overrides_apply_and_reject_unknown_keys() {
    let s = preset("isaac").unwrap();
    let o = apply_overrides(
        &s,
        &["adc.bits=6".into(), "encoding.flip=false".into()],
        "isaac",
    )
    .unwrap();
    assert_eq!(o.adc.bits, 6);
    assert!(!o.encoding.flip);
    let e = apply_overrides(&s, &["adc.nonsense=1".into()], "isaac")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("adc.nonsense") && e.contains("no such key") && e.contains("bits"),
        "{e}"
    );
    let e = apply_overrides(&s, &["adc.bits=abc".into()], "isaac")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("adc.bits") && e.contains("abc") && e.contains("integer"),
        "{e}"
    );
    // An override is validated like a file.
    let e = apply_overrides(&s, &["adc.bits=0".into()], "isaac")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("adc.bits") && e.contains("1..=16"), "{e}");
    let e = apply_overrides(&s, &["adc.bits".into()], "isaac")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("section.key=value"), "{e}");
}
