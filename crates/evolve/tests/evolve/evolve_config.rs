//! The experiment file: presets validate, overrides apply, and a bad file gives one clear
//! error naming file, field, value and what is allowed, for each kind of field.

use nestevo_evolve::config::{
    apply_overrides, differences, parse_experiment, preset, SampleLabels, PRESETS,
};

fn smoke_text() -> String {
    PRESETS
        .iter()
        .find(|p| p.0 == "smoke")
        .unwrap()
        .1
        .to_string()
}

/// `text` with the first line starting with `key =` replaced by `key = value`.
fn with(text: &str, key: &str, value: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            if !done && l.trim_start().starts_with(&format!("{key} =")) {
                done = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn err_of(text: &str) -> String {
    parse_experiment(text, "exp.toml").unwrap_err().to_string()
}

fn assert_names(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "error `{e}` lacks `{p}`");
    }
}

/// Every compiled-in preset parses and validates; the paper preset has three terminals on
/// the three drifted streams D, E and F, over at least six windows.
#[test]
fn presets_validate() {
    for (name, _) in PRESETS {
        preset(name).unwrap();
    }
    let p = preset("paper").unwrap();
    let streams: Vec<&str> = p.terminals.iter().map(|t| t.stream.as_str()).collect();
    assert_eq!(streams.len(), 3);
    assert!(streams.contains(&"D") && streams.contains(&"E") && streams.contains(&"F"));
    assert!(p.windows.count >= 6);
    let err = preset("nope").unwrap_err().to_string();
    assert_names(&err, &["nope", "smoke", "demo", "paper"]);
}

/// An unknown key is refused, at the top level, in a section and in a terminal.
#[test]
fn unknown_keys_are_refused() {
    let t = smoke_text();
    let e = err_of(&t.replacen("seed = 0", "seed = 0\ncolour = 3", 1));
    assert_names(&e, &["exp.toml", "colour", "unknown field"]);
    let e = err_of(&t.replacen("gamma = 12.0", "gamma = 12.0\ngama = 1.0", 1));
    assert_names(&e, &["exp.toml", "drift.gama", "unknown field"]);
    let e = err_of(&t.replacen("stream_seed = 102", "stream_seed = 102\nfsp = 5", 1));
    assert_names(&e, &["exp.toml", "terminals[1].fsp", "unknown field"]);
}

/// A value of the wrong type names the field, the value and the line.
#[test]
fn wrong_types_are_named() {
    let e = err_of(&with(&smoke_text(), "steps", "\"ten\""));
    assert_names(&e, &["exp.toml", "distill.steps", "\"ten\"", "line"]);
    let e = err_of(&with(&smoke_text(), "alpha", "true"));
    assert_names(&e, &["mutual.alpha", "true"]);
}

/// Out-of-range numbers, per kind: a weight in [0, 1], a positive count, a positive
/// duration, a learning rate, the noise coefficient, epsilon and the budget.
#[test]
fn out_of_range_values_are_named() {
    let t = smoke_text();
    let cases: &[(&str, &str, &[&str])] = &[
        ("alpha", "1.5", &["mutual.alpha", "1.5", "[0, 1]"]),
        ("count", "0", &["windows.count", "0", "at least 1"]),
        ("t_total_s", "-2.0", &["windows.t_total_s", "-2", "> 0"]),
        ("lr", "0.0", &["distill.lr", "0", "learning rate"]),
        ("mu", "0.9", &["mutual.mu", "0.9", "[0, 0.5]"]),
        (
            "epsilon",
            "5",
            &["drift.epsilon", "5", "number of terminals (2)"],
        ),
        (
            "d_max",
            "4",
            &["windows.d_max", "4", "min_upload x terminals"],
        ),
        ("min_score", "1.5", &["global.min_score", "1.5", "(0, 1)"]),
        ("latency_ms", "-1.0", &["link.latency_ms", "-1", ">= 0"]),
    ];
    for (key, value, parts) in cases {
        let e = err_of(&with(&t, key, value));
        assert_names(&e, &[&["exp.toml"][..], parts].concat());
    }
    // A window too short for its uploads and scoring frames names the terminal.
    let e = err_of(&with(&t, "t_total_s", "1.0"));
    assert_names(&e, &["windows.t_total_s", "rural", "30 fps", "30 frames"]);
    let e = apply_overrides(
        &preset("smoke").unwrap(),
        &["mutual.replay=300".into()],
        "smoke",
    )
    .unwrap_err()
    .to_string();
    assert_names(&e, &["mutual.replay", "300", "0 (none) to 256"]);
    // Per-class thresholds: one per class or none, each a score.
    let smoke = preset("smoke").unwrap();
    for bad in ["[0.3, 0.4]", "[0.3, 0.4, 0.5, 1.0]"] {
        let e = apply_overrides(&smoke, &[format!("global.class_min_scores={bad}")], "smoke")
            .unwrap_err()
            .to_string();
        assert_names(&e, &["global.class_min_scores", "(0, 1)", "person"]);
    }
    assert_eq!(smoke.pseudo_thresholds(), vec![smoke.global.min_score]);
    let e = apply_overrides(
        &smoke,
        &["global.class_min_scores=[0.3, 0.45, 0.5, 0.6]".into()],
        "smoke",
    )
    .unwrap();
    assert_eq!(e.pseudo_thresholds(), vec![0.3, 0.45, 0.5, 0.6]);
}

/// Terminal fields: a stream that is not a terminal stream, a duplicate id, a model that is
/// not a checkpoint, and no terminals at all.
#[test]
fn bad_terminals_are_named() {
    let t = smoke_text();
    let e = err_of(&t.replacen("stream = \"E\"", "stream = \"Z\"", 1));
    assert_names(&e, &["terminals[1].stream", "\"Z\"", "A, B, C, D, E or F"]);
    let e = err_of(&t.replacen("stream = \"D\"", "stream = \"source\"", 1));
    assert_names(&e, &["terminals[0].stream", "\"source\""]);
    let e = err_of(&t.replacen("id = \"night\"", "id = \"rural\"", 1));
    assert_names(&e, &["terminals[1].id", "unique"]);
    let e = err_of(&t.replacen("M3.safetensors", "M3.pt", 1));
    assert_names(&e, &["terminals[1].model", "M3.pt", "NAME.safetensors"]);
    let cut = t.find("[[terminals]]").unwrap();
    let end = t.find("[windows]").unwrap();
    let none =
        format!("{}{}", &t[..cut], &t[end..]).replacen("seed = 0", "seed = 0\nterminals = []", 1);
    let e = err_of(&none);
    assert_names(&e, &["terminals", "at least one"]);
}

/// `--set` changes a field of a section or of one terminal and validates the result; an
/// unknown key, a bad index and a badly typed value are refused with the keys allowed.
#[test]
fn overrides_apply_and_are_checked() {
    let p = preset("smoke").unwrap();
    let sets = vec![
        "mutual.alpha=0.25".to_string(),
        "terminals.1.stream=C".to_string(),
        "windows.count=3".to_string(),
    ];
    let q = apply_overrides(&p, &sets, "preset `smoke`").unwrap();
    assert_eq!(q.mutual.alpha, 0.25);
    assert_eq!(q.terminals[1].stream, "C");
    assert_eq!(q.windows.count, 3);
    let e = apply_overrides(&p, &["mutual.gamma=1".into()], "preset `smoke`")
        .unwrap_err()
        .to_string();
    assert_names(
        &e,
        &["--set mutual.gamma=1", "no such key", "alpha, batch, beta"],
    );
    let e = apply_overrides(&p, &["terminals.5.stream=A".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["terminals", "list of 2", "0 to 1"]);
    let e = apply_overrides(&p, &["windows.count=many".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["windows.count", "many", "integer"]);
    let e = apply_overrides(&p, &["mutual.beta=2.0".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["mutual.beta", "2", "[0, 1]"]);
    // The comparison protocol and the memory are validated like every field.
    for (set, parts) in [
        (
            "protocol.block_s=0.5",
            &["protocol.block_s", "0.5", "at least 1"][..],
        ),
        (
            "protocol.replicates=0",
            &["protocol.replicates", "at least 1"][..],
        ),
        (
            "distill.memory=5000",
            &["distill.memory", "5000", "0 (none) to 4096"][..],
        ),
        (
            "generator.feature=-0.5",
            &[
                "generator.feature",
                "-0.5",
                "from 0 (no feature-level term) to 100",
            ][..],
        ),
        (
            "generator.terminal=101.0",
            &[
                "generator.terminal",
                "101",
                "from 0 (the terminals see no samples) to 100",
            ][..],
        ),
    ] {
        let e = apply_overrides(&p, &[set.into()], "p")
            .unwrap_err()
            .to_string();
        assert_names(&e, parts);
    }
    let e = err_of(&format!(
        "{}\n[protocol]\ntuning_seeds = []\n",
        smoke_text()
    ));
    assert_names(&e, &["protocol.tuning_seeds", "at least one"]);
    // The TOML it prints reads back to the same experiment.
    assert_eq!(parse_experiment(&q.to_toml(), "again").unwrap(), q);
    // A file written before the feature-level term existed reads with it off.
    assert_eq!(p.generator.feature, 0.0);
    assert_eq!(p.generator.terminal, 0.0);
    let paper = preset("paper").unwrap();
    assert_eq!(paper.generator.terminal, 1.0);
    assert_eq!(paper.generator.sample_labels, SampleLabels::Own);
    // The terminals' weight with no samples drawn would do nothing: refused, naming both.
    let e = apply_overrides(&paper, &["generator.samples=0".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(
        &e,
        &["generator.terminal", "1", "0 while generator.samples = 0"],
    );
    // The samples' classes: pooled unless set, not written out then (older files read back
    // unchanged), `own` by --set and written; anything else refused naming the field.
    assert_eq!(p.generator.sample_labels, SampleLabels::Pooled);
    assert!(!p.to_toml().contains("sample_labels"));
    let own = apply_overrides(&p, &["generator.sample_labels=own".into()], "p").unwrap();
    assert_eq!(own.generator.sample_labels, SampleLabels::Own);
    assert_eq!(parse_experiment(&own.to_toml(), "again").unwrap(), own);
    let e = apply_overrides(&p, &["generator.sample_labels=mine".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["generator.sample_labels", "mine"]);
}

/// The co-evolution switches default to soft labels and frozen batch norm when a file leaves
/// them out (the presets say `boxes`), take `--set`, and a label kind outside `soft`/`boxes`
/// is refused naming the field and the value.
#[test]
fn mutual_label_kind_defaults_and_is_checked() {
    use nestevo_evolve::config::PairLabels;
    assert_eq!(preset("smoke").unwrap().mutual.labels, PairLabels::Boxes);
    let text = smoke_text().replace("labels = \"boxes\"\n", "");
    let p = parse_experiment(&text, "smoke.toml").unwrap();
    assert_eq!(
        (p.mutual.labels, p.mutual.freeze_bn),
        (PairLabels::Soft, true)
    );
    let sets = [
        "mutual.labels=boxes".into(),
        "mutual.freeze_bn=false".into(),
    ];
    let q = apply_overrides(&p, &sets, "p").unwrap();
    assert_eq!(
        (q.mutual.labels, q.mutual.freeze_bn),
        (PairLabels::Boxes, false)
    );
    let e = apply_overrides(&p, &["mutual.labels=hard".into()], "p")
        .unwrap_err()
        .to_string();
    assert!(e.contains("mutual.labels") && e.contains("hard"), "{e}");
}

/// What the global model's statistics are re-estimated on: `uploads-and-source` when a file
/// leaves it out, `source` on the paper preset and by `--set`, anything else refused naming the
/// field, the value and the two allowed.
#[test]
fn bn_frames_default_preset_and_refusal() {
    use nestevo_evolve::config::BnFrames;
    let p = parse_experiment(&smoke_text(), "smoke.toml").unwrap();
    assert_eq!(p.mutual.bn_frames, BnFrames::UploadsAndSource);
    assert_eq!(preset("paper").unwrap().mutual.bn_frames, BnFrames::Source);
    let q = apply_overrides(&p, &["mutual.bn_frames=source".into()], "p").unwrap();
    assert_eq!(q.mutual.bn_frames, BnFrames::Source);
    let e = apply_overrides(&p, &["mutual.bn_frames=pooled".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(
        &e,
        &["mutual.bn_frames", "pooled", "uploads-and-source", "source"],
    );
}

/// `[sched]` defaults (knapsack, 1024 MB, util 0.5) when a file leaves it out, reads a section,
/// takes `--set`, round-trips through `to_toml`, and refuses an unknown policy, a zero budget,
/// a util outside (0, 1] and an unknown key, naming field and value.
#[test]
fn sched_section_defaults_overrides_and_errors() {
    let p = preset("smoke").unwrap();
    assert_eq!(
        (p.sched.policy.as_str(), p.sched.memory_mb, p.sched.util),
        ("knapsack", 1024.0, 0.5)
    );
    let text = smoke_text() + "\n[sched]\npolicy = \"fifo\"\nmemory_mb = 300.0\n";
    let q = parse_experiment(&text, "exp.toml").unwrap();
    assert_eq!(
        (q.sched.policy.as_str(), q.sched.memory_mb, q.sched.util),
        ("fifo", 300.0, 0.5)
    );
    assert_eq!(parse_experiment(&q.to_toml(), "again").unwrap(), q);
    let r = apply_overrides(
        &p,
        &["sched.policy=spf".into(), "sched.util=0.25".into()],
        "p",
    )
    .unwrap();
    assert_eq!((r.sched.policy.as_str(), r.sched.util), ("spf", 0.25));
    let e = apply_overrides(&p, &["sched.policy=lifo".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(
        &e,
        &["sched.policy", "lifo", "knapsack, random, fifo, spf, fair"],
    );
    let e = apply_overrides(&p, &["sched.memory_mb=0".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["sched.memory_mb", "0", "> 0"]);
    let e = apply_overrides(&p, &["sched.util=1.5".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["sched.util", "1.5", "(0, 1]"]);
    let e = err_of(&(smoke_text() + "\n[sched]\nbudget = 3\n"));
    assert_names(&e, &["budget"]);
}

/// `[compress]` defaults to off with a 12 px small-object threshold, takes `--set`, and refuses
/// a threshold of 0 naming the field.
#[test]
fn compress_section_defaults_and_errors() {
    let p = preset("demo").unwrap();
    assert_eq!((p.compress.enabled, p.compress.small_px), (false, 12.0));
    let q = apply_overrides(
        &p,
        &[
            "compress.enabled=true".into(),
            "compress.small_px=16".into(),
        ],
        "p",
    )
    .unwrap();
    assert_eq!((q.compress.enabled, q.compress.small_px), (true, 16.0));
    assert_eq!(parse_experiment(&q.to_toml(), "again").unwrap(), q);
    let e = apply_overrides(&p, &["compress.small_px=0".into()], "p")
        .unwrap_err()
        .to_string();
    assert_names(&e, &["compress.small_px", "0"]);
}

/// `differences` names every changed field with both values, terminals indexed, and nothing
/// for the same experiment.
#[test]
fn differences_name_the_changed_fields() {
    let p = preset("smoke").unwrap();
    assert!(differences(&p, &p).is_empty());
    let q = apply_overrides(
        &p,
        &["mutual.replay=8".into(), "terminals.1.stream_seed=7".into()],
        "smoke",
    )
    .unwrap();
    assert_eq!(
        differences(&p, &q),
        vec!["mutual.replay: 0 -> 8", "terminals.1.stream_seed: 102 -> 7"]
    );
}
