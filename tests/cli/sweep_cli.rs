//! `nestevo sweep`: shards run as separate commands and `--merge` gives the unsharded CSV.

use std::path::Path;
use std::process::Command;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// `nestevo sweep --shard` and `nestevo sweep merge` on the command line, with an ONNX model.
#[test]
fn sweep_cli_shards_and_merges() {
    let d = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_nestevo");
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx/cnn.onnx");
    let run = |extra: &[&str], out: &Path| {
        let o = Command::new(bin)
            .args(["sweep", "--arch", "isaac", "--grid", "crossbar.rows=32..40"])
            .args(["--grid", "crossbar.cols=64,128", "--model"])
            .arg(&onnx)
            .args(extra)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let p = |f: &str| d.path().join(f);
    run(&[], &p("whole.csv"));
    run(&["--shard", "0/2"], &p("a.csv"));
    run(&["--shard", "1/2"], &p("b.csv"));
    let o = Command::new(bin)
        .args(["sweep", "merge"])
        .arg(p("b.csv"))
        .arg(p("a.csv"))
        .arg("--out")
        .arg(p("m.csv"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&p("m.csv")), read(&p("whole.csv")));
    assert_eq!(read(&p("whole.csv")).lines().count(), 1 + 18);
    assert!(p("m.pareto.png").is_file());
}
