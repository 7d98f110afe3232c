//! Reading the protobuf messages: constant tensors (initializers, Constant nodes) and node
//! attributes, with the checks that make a bad value an error rather than a wrong network.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::{AttributeProto, NodeProto, TensorProto};

/// ONNX `TensorProto.DataType` codes the importer reads.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

/// A constant tensor: its dims and values (integers kept exact beside their f32 values).
#[derive(Debug, Clone)]
pub struct Const {
    pub dims: Vec<usize>,
    pub f: Vec<f32>,
    pub ints: Option<Vec<i64>>,
}

/// Decodes a constant tensor; the error says why (external data, dtype, size).
pub fn read_tensor(t: &TensorProto) -> Result<Const, String> {
    if super::external::is_external(t) {
        return Err(format!(
            "tensor `{}` keeps its data in an external file; import the .onnx file from its \
             folder (its path, not its bytes), or export with the weights inside the .onnx \
             file (torch.onnx.export(..., external_data=False))",
            t.name
        ));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor `{}` has dimension {d}", t.name)))
        .collect::<Result<_, _>>()?;
    let n: usize = dims.iter().product();
    let raw = &t.raw_data;
    // The checked bytes, value by value (an iterator: ResNet-50's 25 M weights would otherwise
    // first become 25 M slices, 400 MB).
    let chunks = |w: usize| -> Result<std::slice::ChunksExact<'_, u8>, String> {
        if raw.len() != n * w {
            return Err(format!(
                "tensor `{}`: {} bytes of data for {n} values of {w} bytes (shape {dims:?})",
                t.name,
                raw.len()
            ));
        }
        Ok(raw.chunks_exact(w))
    };
    let (f, ints): (Vec<f32>, Option<Vec<i64>>) = match t.data_type {
        FLOAT if !raw.is_empty() => (
            chunks(4)?
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            None,
        ),
        FLOAT => (t.float_data.clone(), None),
        DOUBLE if !raw.is_empty() => (
            chunks(8)?
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            None,
        ),
        DOUBLE => (t.double_data.iter().map(|&v| v as f32).collect(), None),
        INT64 => {
            let v: Vec<i64> = if raw.is_empty() {
                t.int64_data.clone()
            } else {
                chunks(8)?
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect()
            };
            (v.iter().map(|&x| x as f32).collect(), Some(v))
        }
        INT32 => {
            let v: Vec<i64> = if raw.is_empty() {
                t.int32_data.iter().map(|&x| x as i64).collect()
            } else {
                chunks(4)?
                    .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64)
                    .collect()
            };
            (v.iter().map(|&x| x as f32).collect(), Some(v))
        }
        other => {
            return Err(format!(
                "tensor `{}` has data type {other}; allowed: float (1), double (11), int32 (6), \
                 int64 (7)",
                t.name
            ))
        }
    };
    if f.len() != n {
        return Err(format!(
            "tensor `{}`: {} values for shape {dims:?} ({n} values)",
            t.name,
            f.len()
        ));
    }
    if f.iter().any(|v| !v.is_finite()) {
        return Err(format!("tensor `{}` holds a non-finite value", t.name));
    }
    Ok(Const { dims, f, ints })
}

/// A node's attributes, looked up by name with their expected type.
pub struct Attrs<'a>(&'a NodeProto);

impl<'a> Attrs<'a> {
    pub fn of(n: &'a NodeProto) -> Self {
        Attrs(n)
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.0.attribute.iter().find(|a| a.name == name)
    }

    fn typed(&self, name: &str, want: AttributeType) -> Result<Option<&'a AttributeProto>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a) if a.type_.enum_value() == Ok(want) => Ok(Some(a)),
            Some(a) => Err(format!(
                "attribute `{name}` has type {:?}; expected {want:?}",
                a.type_
            )),
        }
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        Ok(self
            .typed(name, AttributeType::INT)?
            .map_or(default, |a| a.i))
    }

    pub fn float(&self, name: &str) -> Result<Option<f32>, String> {
        Ok(self.typed(name, AttributeType::FLOAT)?.map(|a| a.f))
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        Ok(self
            .typed(name, AttributeType::INTS)?
            .map(|a| a.ints.clone()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, String> {
        Ok(self
            .typed(name, AttributeType::FLOATS)?
            .map(|a| a.floats.clone()))
    }

    pub fn string(&self, name: &str, default: &str) -> Result<String, String> {
        Ok(self
            .typed(name, AttributeType::STRING)?
            .map_or(default.to_string(), |a| {
                String::from_utf8_lossy(&a.s).into_owned()
            }))
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, String> {
        Ok(self
            .typed(name, AttributeType::TENSOR)?
            .and_then(|a| a.t.as_ref()))
    }
}
