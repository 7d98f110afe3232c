//! A checkpoint read for the crossbars holds only its description's parameters.

use nestevo_couple::load_checkpoint;
use std::path::Path;

#[test]
fn a_tensor_of_no_layer_is_refused_naming_it() {
    let (_, mut t) = load_checkpoint(Path::new("models/pretrained/M3.safetensors"), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("M3.safetensors");
    std::fs::copy("models/pretrained/M3.toml", dir.path().join("M3.toml")).unwrap();
    t.write(&w).unwrap();
    assert!(load_checkpoint(&w, None).is_ok(), "the same tensors load");
    t.insert("bogus.weight", ndarray::ArrayD::zeros(vec![2]));
    t.write(&w).unwrap();
    let e = load_checkpoint(&w, None).unwrap_err().to_string();
    assert!(e.contains("`bogus.weight`") && e.contains("M3.toml"), "{e}");
}
