//! Constant folding at import: exporters leave shape arithmetic in graphs (`Shape` of a
//! computed tensor, then `Gather`, `Div`, `Concat`, ... into a `Reshape`'s target). Every
//! shape is fixed here, so `Shape` of a computed tensor is a constant, and a node of the ops
//! below whose inputs are all constants is evaluated and bound to its result; it becomes no
//! layer. Values are exact: integers stay integers (shapes), floats are f32 as ONNX's.

use super::context::{broadcast_to, Ctx, Node, Val};
use super::proto::Const;
use super::OnnxError;

/// The ops evaluated on constants.
const FOLDED: &[&str] = &[
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Cast",
    "Sqrt",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "Pow",
    "Equal",
    "Where",
    "ConstantOfShape",
    "Expand",
    "Slice",
    "Reshape",
    "Range",
    "Neg",
    "Floor",
    "Ceil",
    "Transpose",
    "ScatterND",
    "Not",
    "MatMul",
    "Relu",
    "Sigmoid",
    "Exp",
    "Log",
    "Abs",
    "Sign",
    "Clip",
    "Max",
    "Min",
    "Less",
    "Greater",
];

/// Values with their dims; `int` when they are integers (ONNX int32/int64/bool).
struct T {
    dims: Vec<usize>,
    v: Vec<f64>,
    int: bool,
}

impl T {
    fn of(c: &Const) -> T {
        match &c.ints {
            Some(i) => T {
                dims: c.dims.clone(),
                v: i.iter().map(|&x| x as f64).collect(),
                int: true,
            },
            None => T {
                dims: c.dims.clone(),
                v: c.f.iter().map(|&x| x as f64).collect(),
                int: false,
            },
        }
    }

    fn into_const(self) -> Const {
        let ints = self.int.then(|| self.v.iter().map(|&x| x as i64).collect());
        Const {
            dims: self.dims,
            f: self.v.iter().map(|&x| x as f32).collect(),
            ints,
        }
    }

    fn ints(&self) -> Vec<i64> {
        self.v.iter().map(|&x| x as i64).collect()
    }
}

/// Folds `node` if it is a folded op whose inputs are constants (or a `Shape` of a computed
/// tensor): binds its output and returns true; otherwise leaves it to the op registry.
pub fn fold(cx: &mut Ctx, node: &Node) -> Result<bool, OnnxError> {
    let n = node.proto;
    if !FOLDED.contains(&n.op_type.as_str()) {
        return Ok(false);
    }
    let given: Vec<usize> = (0..n.input.len()).filter(|&k| node.has_input(k)).collect();
    if n.op_type == "Shape" {
        let dims = match cx.lookup(node, 0)? {
            Val::Const(c) => c.dims.clone(),
            Val::Input | Val::Layer(_) => cx.dims_of(&cx.data(node, 0)?),
            Val::Extra => return Ok(false),
        };
        let r = dims.len() as i64;
        let at = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let (s, e) = (at(node.int("start", 0)?), at(node.int("end", r)?));
        let v: Vec<f64> = dims[s..e.max(s)].iter().map(|&d| d as f64).collect();
        let t = T {
            dims: vec![v.len()],
            v,
            int: true,
        };
        cx.bind(node, Val::Const(t.into_const()));
        return Ok(true);
    }
    let (need, most) = arity(&n.op_type);
    if !(0..need).all(|k| given.contains(&k)) || given.iter().any(|&k| k >= most) {
        let allowed = match (need, most) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("{a} or more"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(node.err(format!(
            "{} takes {allowed} inputs (the first {need} given); the node has {} ({} given)",
            n.op_type,
            n.input.len(),
            given.len()
        )));
    }
    let mut ins = Vec::with_capacity(given.len());
    for &k in &given {
        match cx.lookup(node, k)? {
            Val::Const(c) => ins.push(T::of(c)),
            _ => return Ok(false),
        }
    }
    let out = eval(node, &given, ins).map_err(|m| node.err(format!("folding constants: {m}")))?;
    cx.bind(node, Val::Const(out.into_const()));
    Ok(true)
}

/// The inputs a folded op reads: how many leading ones must be given, and how many it has at
/// most (ONNX's arity), so that a malformed node is refused before it is evaluated.
fn arity(op: &str) -> (usize, usize) {
    match op {
        "Where" | "Range" | "ScatterND" => (3, 3),
        "Slice" => (3, 5),
        "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Pow" | "Equal" | "Less" | "Greater" | "MatMul"
        | "Gather" | "Expand" | "Reshape" => (2, 2),
        "Max" | "Min" | "Concat" => (1, usize::MAX),
        "Clip" => (1, 3),
        "Squeeze" | "Unsqueeze" => (1, 2),
        _ => (1, 1),
    }
}

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// `t` broadcast to `dims` (numpy rules; `dims` already the broadcast shape).
fn expand(t: &T, dims: &[usize]) -> Result<Vec<f64>, String> {
    broadcast_to(&t.dims, &t.v, dims)
        .ok_or_else(|| format!("{:?} does not broadcast to {dims:?}", t.dims))
}

/// The numpy broadcast of several shapes.
fn broadcast(shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    let n = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1; n];
    for s in shapes {
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[n - s.len() + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(format!("shapes {shapes:?} do not broadcast"));
            }
        }
    }
    Ok(out)
}

fn binary(a: &T, b: &T, f: impl Fn(f64, f64) -> f64, int: bool) -> Result<T, String> {
    let dims = broadcast(&[&a.dims, &b.dims])?;
    let (x, y) = (expand(a, &dims)?, expand(b, &dims)?);
    Ok(T {
        v: x.iter().zip(&y).map(|(&p, &q)| f(p, q)).collect(),
        dims,
        int,
    })
}

fn eval(node: &Node, given: &[usize], mut ins: Vec<T>) -> Result<T, String> {
    let op = node.proto.op_type.as_str();
    let attr = |name: &str, d: i64| node.attrs.int(name, d);
    let norm = |a: i64, r: usize| -> usize { (if a < 0 { a + r as i64 } else { a }) as usize };
    Ok(match op {
        // Two inputs each (`arity`); Max and Min take any number, below.
        "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Pow" | "Equal" | "Less" | "Greater" => {
            let (a, b) = (&ins[0], &ins[1]);
            let int = a.int && b.int;
            let fmod = attr("fmod", 0)? != 0;
            let f: Box<dyn Fn(f64, f64) -> f64> = match op {
                "Add" => Box::new(|x, y| x + y),
                "Sub" => Box::new(|x, y| x - y),
                "Mul" => Box::new(|x, y| x * y),
                "Div" if int => Box::new(|x, y| (x / y).trunc()),
                "Div" => Box::new(|x, y| ((x as f32) / (y as f32)) as f64),
                "Mod" if fmod || !int => Box::new(|x, y| x % y),
                "Mod" => Box::new(|x, y| x - y * (x / y).floor()),
                "Pow" => Box::new(|x, y| ((x as f32).powf(y as f32)) as f64),
                "Less" => Box::new(|x, y| f64::from(u8::from(x < y))),
                "Greater" => Box::new(|x, y| f64::from(u8::from(x > y))),
                _ => Box::new(|x, y| f64::from(u8::from(x == y))),
            };
            let boolean = matches!(op, "Equal" | "Less" | "Greater");
            binary(a, b, f, int || boolean)?
        }
        "Max" | "Min" => {
            // Any number of inputs, folded pairwise from the left.
            let f = if op == "Max" { f64::max } else { f64::min };
            let mut it = ins.into_iter();
            let mut acc = it.next().ok_or("no inputs")?;
            for t in it {
                let int = acc.int && t.int;
                acc = binary(&acc, &t, f, int)?;
            }
            acc
        }
        "Sqrt" | "Neg" | "Floor" | "Ceil" | "Relu" | "Sigmoid" | "Exp" | "Log" | "Abs" | "Sign" => {
            let t = &mut ins[0];
            // Float functions in f32, as the graph computes them.
            let f32_of = |v: f64, f: fn(f32) -> f32| f(v as f32) as f64;
            for v in t.v.iter_mut() {
                *v = match op {
                    "Sqrt" => f32_of(*v, f32::sqrt),
                    "Neg" => -*v,
                    "Floor" => v.floor(),
                    "Ceil" => v.ceil(),
                    "Relu" => v.max(0.0),
                    "Sigmoid" => f32_of(*v, |x| 1.0 / (1.0 + (-x).exp())),
                    "Exp" => f32_of(*v, f32::exp),
                    "Log" => f32_of(*v, f32::ln),
                    "Abs" => v.abs(),
                    _ => v.signum() * f64::from(u8::from(*v != 0.0)),
                };
            }
            ins.swap_remove(0)
        }
        "Clip" => {
            // Opset 11+: min and max are optional scalar inputs 1 and 2; before, attributes.
            let bound = |k: usize, name: &str, d: f64| -> Result<f64, String> {
                match given.iter().position(|&g| g == k) {
                    Some(i) if ins[i].v.len() == 1 => Ok(ins[i].v[0]),
                    Some(i) => Err(format!(
                        "Clip's {name} must be a scalar, got shape {:?}",
                        ins[i].dims
                    )),
                    None => Ok(node.attrs.float(name)?.map_or(d, f64::from)),
                }
            };
            let (lo, hi) = (
                bound(1, "min", f64::NEG_INFINITY)?,
                bound(2, "max", f64::INFINITY)?,
            );
            let mut t = ins.swap_remove(0);
            t.v.iter_mut().for_each(|v| *v = v.max(lo).min(hi));
            t
        }
        "MatMul" => {
            // [.., M, K] x [.., K, N] with the leading axes broadcast; sums in f64.
            let (a, b) = (&ins[0], &ins[1]);
            if a.dims.len() < 2 || b.dims.len() < 2 {
                return Err("MatMul of constants of rank below 2".into());
            }
            let (ra, rb) = (a.dims.len(), b.dims.len());
            let (m, k, n) = (a.dims[ra - 2], a.dims[ra - 1], b.dims[rb - 1]);
            if b.dims[rb - 2] != k {
                return Err(format!("MatMul of {:?} and {:?}", a.dims, b.dims));
            }
            let lead = broadcast(&[&a.dims[..ra - 2], &b.dims[..rb - 2]])?;
            let with = |t: &T, rows: usize, cols: usize| -> Result<Vec<f64>, String> {
                let mut d = lead.clone();
                d.extend([rows, cols]);
                let l = t.dims.len();
                let mut own = t.dims[..l - 2].to_vec();
                own.extend([rows, cols]);
                expand(
                    &T {
                        dims: own,
                        v: t.v.clone(),
                        int: t.int,
                    },
                    &d,
                )
            };
            let (x, y) = (with(a, m, k)?, with(b, k, n)?);
            let batches: usize = lead.iter().product();
            // Integers (shape arithmetic) stay exact; floats round to f32 as the graph's do.
            let int = a.int && b.int;
            let mut v = Vec::with_capacity(batches * m * n);
            for bt in 0..batches {
                for i in 0..m {
                    for j in 0..n {
                        let sum: f64 = (0..k)
                            .map(|q| x[(bt * m + i) * k + q] * y[(bt * k + q) * n + j])
                            .sum();
                        v.push(if int { sum } else { (sum as f32) as f64 });
                    }
                }
            }
            let mut dims = lead;
            dims.extend([m, n]);
            T { v, dims, int }
        }
        "Cast" => {
            let to = attr("to", 1)?;
            let mut t = ins.swap_remove(0);
            t.int = matches!(to, 2..=7 | 9 | 12 | 13);
            if t.int {
                t.v.iter_mut().for_each(|v| *v = v.trunc());
            } else {
                t.v.iter_mut().for_each(|v| *v = (*v as f32) as f64);
            }
            t
        }
        "Where" => {
            let dims = broadcast(&[&ins[0].dims, &ins[1].dims, &ins[2].dims])?;
            let (c, a, b) = (
                expand(&ins[0], &dims)?,
                expand(&ins[1], &dims)?,
                expand(&ins[2], &dims)?,
            );
            T {
                v: (0..c.len())
                    .map(|i| if c[i] != 0.0 { a[i] } else { b[i] })
                    .collect(),
                dims,
                int: ins[1].int && ins[2].int,
            }
        }
        "ConstantOfShape" => {
            let dims: Vec<usize> = ins[0].ints().iter().map(|&d| d.max(0) as usize).collect();
            let (value, int) = match node.attrs.tensor("value")? {
                Some(t) => {
                    let c = super::proto::read_tensor(t)?;
                    (c.f.first().copied().unwrap_or(0.0) as f64, c.ints.is_some())
                }
                None => (0.0, false),
            };
            T {
                v: vec![value; dims.iter().product()],
                dims,
                int,
            }
        }
        "Expand" => {
            let want: Vec<usize> = ins[1].ints().iter().map(|&d| d.max(0) as usize).collect();
            let dims = broadcast(&[&ins[0].dims, &want])?;
            T {
                v: expand(&ins[0], &dims)?,
                dims,
                int: ins[0].int,
            }
        }
        "Range" => {
            let (s, l, d) = (ins[0].v[0], ins[1].v[0], ins[2].v[0]);
            if d == 0.0 {
                return Err("Range with delta 0".into());
            }
            let n = ((l - s) / d).ceil().max(0.0) as usize;
            T {
                v: (0..n).map(|i| s + i as f64 * d).collect(),
                dims: vec![n],
                int: ins[0].int,
            }
        }
        "Unsqueeze" | "Squeeze" | "Reshape" => {
            let mut t = ins.swap_remove(0);
            let axes = if given.len() > 1 {
                ins[0].ints()
            } else {
                node.attrs.ints("axes")?.unwrap_or_default()
            };
            t.dims = match op {
                "Unsqueeze" => {
                    let r = t.dims.len() + axes.len();
                    let mut ax: Vec<usize> = axes.iter().map(|&a| norm(a, r)).collect();
                    ax.sort_unstable();
                    let mut d = t.dims.clone();
                    for a in ax {
                        d.insert(a.min(d.len()), 1);
                    }
                    d
                }
                "Squeeze" => {
                    let r = t.dims.len();
                    let ax: Vec<usize> = axes.iter().map(|&a| norm(a, r)).collect();
                    (0..r)
                        .filter(|&i| !(ax.contains(&i) || ax.is_empty() && t.dims[i] == 1))
                        .map(|i| t.dims[i])
                        .collect()
                }
                _ => {
                    let n: usize = t.v.len();
                    let mut d: Vec<i64> = axes.clone();
                    for (i, x) in d.iter_mut().enumerate() {
                        if *x == 0 {
                            *x = *t.dims.get(i).ok_or("0 copies an axis it lacks")? as i64;
                        }
                    }
                    let known: i64 = d.iter().filter(|&&x| x > 0).product();
                    d.iter()
                        .map(|&x| {
                            if x < 0 {
                                n / known.max(1) as usize
                            } else {
                                x as usize
                            }
                        })
                        .collect()
                }
            };
            if t.dims.iter().product::<usize>() != t.v.len() {
                return Err(format!("{op} to {:?} of {} values", t.dims, t.v.len()));
            }
            t
        }
        "Concat" => {
            let r = ins[0].dims.len();
            let axis = norm(attr("axis", 0)?, r.max(1));
            let outer: usize = ins[0].dims[..axis].iter().product();
            let mut dims = ins[0].dims.clone();
            dims[axis] = ins.iter().map(|t| t.dims[axis]).sum();
            let mut v = Vec::new();
            for o in 0..outer {
                for t in &ins {
                    let inner: usize = t.dims[axis..].iter().product();
                    v.extend_from_slice(&t.v[o * inner..(o + 1) * inner]);
                }
            }
            T {
                v,
                dims,
                int: ins.iter().all(|t| t.int),
            }
        }
        "Gather" => {
            let (d, idx) = (&ins[0], &ins[1]);
            let axis = norm(attr("axis", 0)?, d.dims.len());
            let outer: usize = d.dims[..axis].iter().product();
            let inner: usize = d.dims[axis + 1..].iter().product();
            let n = d.dims[axis] as i64;
            let mut v = Vec::new();
            for o in 0..outer {
                for &i in &idx.ints() {
                    let i = if i < 0 { i + n } else { i } as usize;
                    let at = (o * d.dims[axis] + i) * inner;
                    v.extend_from_slice(&d.v[at..at + inner]);
                }
            }
            let mut dims = d.dims[..axis].to_vec();
            dims.extend(&idx.dims);
            dims.extend(&d.dims[axis + 1..]);
            T {
                v,
                dims,
                int: d.int,
            }
        }
        "Slice" => {
            let t = &ins[0];
            let r = t.dims.len();
            // By input position: axes may be left out ("") while steps are given.
            let get = |k: usize| given.iter().position(|&g| g == k).map(|i| ins[i].ints());
            let (starts, ends) = (get(1).unwrap_or_default(), get(2).unwrap_or_default());
            let axes = get(3).unwrap_or_else(|| (0..starts.len() as i64).collect());
            let steps = get(4).unwrap_or_else(|| vec![1; starts.len()]);
            let n = starts.len();
            if ends.len() != n || axes.len() != n || steps.len() != n {
                return Err(format!(
                    "Slice with {n} starts, {} ends, {} axes and {} steps: they must be as many",
                    ends.len(),
                    axes.len(),
                    steps.len()
                ));
            }
            if let Some(a) = axes.iter().find(|&&a| a < -(r as i64) || a >= r as i64) {
                return Err(format!("Slice axis {a} of a tensor of rank {r}"));
            }
            // The indices kept along each axis.
            let mut keep: Vec<Vec<usize>> = t.dims.iter().map(|&d| (0..d).collect()).collect();
            for k in 0..starts.len() {
                let a = norm(axes[k], r);
                let n = t.dims[a] as i64;
                let st = steps[k];
                if st == 0 {
                    return Err("Slice with step 0".into());
                }
                let fix = |v: i64| if v < 0 { v + n } else { v };
                let idx: Vec<usize> = if st > 0 {
                    let (s0, e0) = (fix(starts[k]).clamp(0, n), fix(ends[k]).clamp(0, n));
                    (s0..e0).step_by(st as usize).map(|i| i as usize).collect()
                } else {
                    let (s0, e0) = (
                        fix(starts[k]).clamp(-1, n - 1),
                        fix(ends[k]).clamp(-1, n - 1),
                    );
                    let mut v = Vec::new();
                    let mut i = s0;
                    while i > e0 {
                        v.push(i as usize);
                        i += st;
                    }
                    v
                };
                keep[a] = idx;
            }
            let dims: Vec<usize> = keep.iter().map(|k| k.len()).collect();
            let src = strides(&t.dims);
            let total: usize = dims.iter().product();
            let out_s = strides(&dims);
            let v = (0..total)
                .map(|o| {
                    let at: usize = (0..r)
                        .map(|a| keep[a][(o / out_s[a]) % dims[a]] * src[a])
                        .sum();
                    t.v[at]
                })
                .collect();
            T {
                dims,
                v,
                int: t.int,
            }
        }
        "Transpose" => {
            let t = &ins[0];
            let r = t.dims.len();
            let perm: Vec<usize> = match node.attrs.ints("perm")? {
                Some(p) => p.iter().map(|&a| norm(a, r)).collect(),
                None => (0..r).rev().collect(),
            };
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..r).collect::<Vec<_>>() {
                return Err(format!("Transpose perm {perm:?} of a tensor of rank {r}"));
            }
            let dims: Vec<usize> = perm.iter().map(|&a| t.dims[a]).collect();
            let (src, out_s) = (strides(&t.dims), strides(&dims));
            let v = (0..t.v.len())
                .map(|o| {
                    let at: usize = (0..r)
                        .map(|k| ((o / out_s[k]) % dims[k]) * src[perm[k]])
                        .sum();
                    t.v[at]
                })
                .collect();
            T {
                dims,
                v,
                int: t.int,
            }
        }
        "Not" => {
            let mut t = ins.swap_remove(0);
            t.v.iter_mut()
                .for_each(|v| *v = f64::from(u8::from(*v == 0.0)));
            t
        }
        "ScatterND" => {
            // data[indices[i, :]] = updates[i], each index naming a slice of the data's
            // leading k axes (as Swin's shifted-window mask is built, region by region).
            let reduction = node.attrs.string("reduction", "none")?;
            if reduction != "none" {
                return Err(format!("ScatterND reduction `{reduction}`: only `none`"));
            }
            let (upd, idx) = (ins.swap_remove(2), ins.swap_remove(1));
            let mut t = ins.swap_remove(0);
            let k = *idx.dims.last().ok_or("indices of rank 0")?;
            if k > t.dims.len() {
                return Err(format!(
                    "indices of depth {k} into data of rank {}",
                    t.dims.len()
                ));
            }
            let inner: usize = t.dims[k..].iter().product();
            let s = strides(&t.dims);
            let ids = idx.ints();
            let count = ids.len() / k.max(1);
            if upd.v.len() != count * inner {
                return Err(format!(
                    "updates of shape {:?} for {count} slices of {inner} values",
                    upd.dims
                ));
            }
            for i in 0..count {
                let mut at = 0;
                for a in 0..k {
                    let n = t.dims[a] as i64;
                    let j = ids[i * k + a];
                    let j = if j < 0 { j + n } else { j };
                    if !(0..n).contains(&j) {
                        return Err(format!("index {j} on an axis of {n}"));
                    }
                    at += j as usize * s[a];
                }
                t.v[at..at + inner].copy_from_slice(&upd.v[i * inner..(i + 1) * inner]);
            }
            t
        }
        other => return Err(format!("{other} is not folded")),
    })
}
