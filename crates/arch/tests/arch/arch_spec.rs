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
    let m = load_with("input_bits = 16", "input_bits = 25");
    assert!(
        m.contains("data.input_bits") && m.contains("25") && m.contains("1..=24"),
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

#[test]
fn device_laws_are_read_validated_and_overridden() {
    let text = format!(
        "{}\n[[device.laws]]\nname = \"stuck\"\noff_rate = 0.01\n\n[[device.laws]]\nname = \"drift\"\ntime_s = 86400\ncompensate = true\n",
        isaac_text()
    );
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let s = load_arch(f.path()).unwrap();
    assert_eq!(s.device.laws.len(), 2);
    assert_eq!(
        s.device.laws[1].to_string(),
        "drift:compensate=true,time_s=86400"
    );
    assert_eq!(s.device_laws("x").unwrap()[0].name(), "stuck");
    // A bad law names its place in the list, the key, the value and what is allowed.
    let bad = text.replace("off_rate = 0.01", "off_rate = 2");
    let mut g = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    g.write_all(bad.as_bytes()).unwrap();
    let e = load_arch(g.path()).unwrap_err().to_string();
    assert!(
        e.contains(&g.path().display().to_string())
            && e.contains("device.laws.0.off_rate")
            && e.contains("= 2")
            && e.contains("<= 1"),
        "{e}"
    );
    let e = apply_overrides(&s, &["device.laws.1.time_s=-5".into()], "f")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("device.laws.1.time_s") && e.contains(">= 0"),
        "{e}"
    );
    let o = apply_overrides(&s, &["device.laws.1.time_s=3.15e7".into()], "f").unwrap();
    assert_eq!(
        o.device.laws[1].params["time_s"],
        nestevo_device::Value::Num(3.15e7)
    );
    // A whole list on the command line; the presets have ideal cells.
    let p = preset("isaac").unwrap();
    assert!(p.device.laws.is_empty());
    let o = apply_overrides(
        &p,
        &[r#"device.laws=[{name = "read", mu = 0.01}]"#.into()],
        "isaac",
    )
    .unwrap();
    assert_eq!(o.device_laws("isaac").unwrap()[0].read_mu(), 0.01);
    let e = apply_overrides(&p, &[r#"device.laws=[{name = "pcm"}]"#.into()], "isaac")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("device.laws.0.name") && e.contains("drift"),
        "{e}"
    );
}

/// `data.weight_scale`: per layer unless a file or `--set` says per column; a bad value is
/// named with what is allowed; the default is not written out, so the serialised ISAAC (and
/// every run record made before the field existed) reads the same.
#[test]
fn weight_scale_defaults_to_the_layer_and_is_settable() {
    use nestevo_arch::WeightScale;
    let s = preset("isaac").unwrap();
    assert_eq!(s.data.weight_scale, WeightScale::Layer);
    assert!(!toml::to_string(&s).unwrap().contains("weight_scale"));
    let o = apply_overrides(&s, &["data.weight_scale=column".into()], "isaac").unwrap();
    assert_eq!(o.data.weight_scale, WeightScale::Column);
    assert!(toml::to_string(&o)
        .unwrap()
        .contains("weight_scale = \"column\""));
    let back = apply_overrides(&o, &["data.weight_scale=layer".into()], "isaac").unwrap();
    assert_eq!(back, s);
    let e = apply_overrides(&s, &["data.weight_scale=row".into()], "isaac")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data.weight_scale") && e.contains("row") && e.contains("`column`"),
        "{e}"
    );
    let m = load_with(
        "input_bits = 16",
        "input_bits = 16\nweight_scale = \"channel\"",
    );
    assert!(
        m.contains("weight_scale") && m.contains("channel") && m.contains("`layer`"),
        "{m}"
    );
    let text = isaac_text().replacen(
        "input_bits = 16",
        "input_bits = 16\nweight_scale = \"column\"",
        1,
    );
    let f = nestevo_arch::parse_arch(&text, "t.toml").unwrap();
    assert_eq!(f.data.weight_scale, WeightScale::Column);
}
