//! A sweep's results file resumes only the run that made it, and refuses values that are not
//! numbers instead of reading them back as NaN.

use nestevo_experiments::points::PointsFile;
use serde_json::json;

const HEADER: [&str; 3] = ["bits", "map50", "seconds"];

#[test]
fn a_results_file_resumes_only_its_own_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("adc.csv");
    let run = json!({"model": "M1", "frames": 4});
    let mut f = PointsFile::open(&p, &HEADER, 1)
        .unwrap()
        .bound_to(&run)
        .unwrap();
    f.push(vec!["8".into(), "0.5".into(), "1.0".into()])
        .unwrap();
    let side = dir.path().join("adc.csv.run.json");
    assert!(side.exists());

    let again = PointsFile::open(&p, &HEADER, 1)
        .unwrap()
        .bound_to(&run)
        .unwrap();
    assert!(again.done(&["8".to_string()]), "the same run resumes");

    let other = json!({"model": "M3", "frames": 4});
    let e = PointsFile::open(&p, &HEADER, 1)
        .unwrap()
        .bound_to(&other)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("another run")
            && e.contains("model: \"M1\" -> \"M3\"")
            && !e.contains("frames:"),
        "{e}"
    );

    // A nested field is named by its dotted key, not as its whole section.
    let p2 = dir.path().join("dev.csv");
    let arch = |bits: u32| json!({"model": "M1", "arch": {"adc": {"bits": bits, "flip": true}}});
    PointsFile::open(&p2, &HEADER, 1)
        .unwrap()
        .bound_to(&arch(8))
        .unwrap();
    let e = PointsFile::open(&p2, &HEADER, 1)
        .unwrap()
        .bound_to(&arch(6))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("arch.adc.bits: 8 -> 6") && !e.contains("flip"),
        "{e}"
    );

    std::fs::remove_file(&side).unwrap();
    let e = PointsFile::open(&p, &HEADER, 1)
        .unwrap()
        .bound_to(&run)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("holds 1 points but no record"), "{e}");
}

#[test]
fn a_value_that_is_not_a_number_is_refused_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    std::fs::write(
        &p,
        "bits,map50,seconds\n8,0.5,1.0\n7,notanumber,1.0\n6,NaN,2.0\n",
    )
    .unwrap();
    let e = PointsFile::open(&p, &HEADER, 1)
        .unwrap()
        .numeric(&HEADER[1..])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("line 3") && e.contains("`map50`") && e.contains("notanumber"),
        "{e}"
    );
    std::fs::write(&p, "bits,map50,seconds\n8,0.5,1.0\n6,NaN,2.0\n").unwrap();
    let f = PointsFile::open(&p, &HEADER, 1)
        .unwrap()
        .numeric(&HEADER[1..])
        .unwrap();
    assert_eq!(
        f.rows().len(),
        2,
        "NaN is a number (a point without an interval)"
    );
}
