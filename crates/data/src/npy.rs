//! Integer matrices in NumPy's .npy format, as `nestevo cim mvm` reads and writes them.

use super::error::DataError;
use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use nestevo_core::error::IoError;
use std::path::Path;

/// A 2-D integer .npy of any integer dtype (int8..int64, uint8..uint64), as i64.
pub fn read_int_matrix(path: &Path) -> Result<Array2<i64>, DataError> {
    fn try_read<T: ndarray_npy::ReadableElement + Copy + Into<i128>>(
        p: &Path,
    ) -> Result<Option<Array2<i64>>, String> {
        let f = std::fs::File::open(p).map_err(|e| format!("cannot open: {e}"))?;
        let Ok(a) = Array2::<T>::read_npy(std::io::BufReader::new(f)) else {
            return Ok(None);
        };
        a.iter()
            .map(|&v| i64::try_from(v.into()).map_err(|_| "a value does not fit int64".to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some(Array2::from_shape_vec(a.dim(), v).expect("same shape")))
    }
    type Reader = fn(&Path) -> Result<Option<Array2<i64>>, String>;
    let readers: [Reader; 8] = [
        try_read::<i64>,
        try_read::<i32>,
        try_read::<i16>,
        try_read::<i8>,
        try_read::<u8>,
        try_read::<u16>,
        try_read::<u32>,
        try_read::<u64>,
    ];
    for read in readers {
        match read(path) {
            Ok(Some(a)) => return Ok(a),
            Ok(None) => {}
            Err(e) => nestevo_core::invalid!("{}: {e}", path.display()),
        }
    }
    // Say what the file holds, or else why the most general reader refused it.
    let why = match describe(path) {
        Some(what) => what,
        None => std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                ndarray::Array2::<i64>::read_npy(std::io::BufReader::new(f))
                    .map_err(|e| e.to_string())
            })
            .err()
            .unwrap_or_default(),
    };
    nestevo_core::invalid!(
        "{}: not a 2-D integer .npy ({why}); allowed: a 2-D array of int8..int64 or uint8..uint64",
        path.display()
    )
}

/// "a 3-D array of int32, shape [2, 3, 4]" from a .npy header (format versions 1 to 3), or None
/// where the header cannot be read.
fn describe(path: &Path) -> Option<String> {
    use py_literal::Value;
    let mut head = vec![0u8; 4096];
    let n = std::io::Read::read(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    let head = head
        .get(..n)
        .filter(|h| h.starts_with(b"\x93NUMPY") && h.len() >= 12)?;
    let (len, start) = match head[6] {
        1 => (u16::from_le_bytes([head[8], head[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(head[8..12].try_into().ok()?) as usize,
            12,
        ),
    };
    let text = std::str::from_utf8(head.get(start..start + len)?).ok()?;
    let Value::Dict(fields) = text.trim().parse::<Value>().ok()? else {
        return None;
    };
    let field = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| *key == Value::String(k.into()))
    };
    let (Some((_, Value::String(descr))), Some((_, Value::Tuple(shape)))) =
        (field("descr"), field("shape"))
    else {
        return None;
    };
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    let kind = match code.split_at_checked(1)? {
        ("b", "1") => "bool".to_string(),
        (c, bytes) => {
            let bits = bytes.parse::<u32>().ok()? * 8;
            match c {
                "i" => format!("int{bits}"),
                "u" => format!("uint{bits}"),
                "f" => format!("float{bits}"),
                "c" => format!("complex{bits}"),
                _ => descr.clone(),
            }
        }
    };
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    Some(format!(
        "a {}-D array of {kind}, shape [{}]",
        dims.len(),
        dims.join(", ")
    ))
}

/// Writes an int64 matrix as .npy, atomically.
pub fn write_int_matrix(path: &Path, a: &Array2<i64>) -> Result<(), DataError> {
    let mut buf = Vec::new();
    a.write_npy(&mut buf)
        .map_err(|e| IoError::new(path, "write", std::io::Error::other(e)))?;
    Ok(nestevo_core::error::write_atomic(path, &buf)?)
}
