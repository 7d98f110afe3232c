//! PNG frames with COCO-style labels on disk: exporting a stream and reading a user's folder.

use super::coco::{coco_ground_truth, CocoGroundTruth, CocoImage};
use super::error::{DataError, Result};
use super::stream::Stream;
use super::{Frame, GtBox, CLASSES};
use nestevo_core::error::{Context, IoError};
use nestevo_core::{check, invalid};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// The labels file that `export_frames` writes and `read_frames_dir` reads.
pub const ANNOTATIONS: &str = "annotations.json";

/// Encodes 8-bit RGB (`H*W*3`, row-major) as PNG in memory.
pub fn encode_png(width: usize, height: usize, rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Writing to a Vec cannot fail; a wrong buffer length is the caller's bug.
        let mut w = enc.write_header().expect("in-memory PNG header");
        w.write_image_data(rgb)
            .expect("in-memory PNG data of H*W*3 bytes");
    }
    out
}

/// Writes 8-bit RGB as PNG.
pub fn write_png(path: &Path, width: usize, height: usize, rgb: &[u8]) -> Result<()> {
    check!(
        rgb.len() == width * height * 3,
        "{}: RGB buffer is not {width}x{height}x3",
        path.display()
    );
    std::fs::write(path, encode_png(width, height, rgb))
        .map_err(|e| IoError::new(path, "write", e))?;
    Ok(())
}

/// Any PNG (grey, RGBA, palette, 16-bit) from `r` as 8-bit RGB: `(width, height, rgb)`; the
/// error says what is wrong, for the caller to name the source.
fn decode<R: std::io::Read>(r: R) -> std::result::Result<(usize, usize, Vec<u8>), String> {
    let mut dec = png::Decoder::new(r);
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let corrupt = |e: png::DecodingError| format!("not a readable PNG: {e}");
    let mut reader = dec.read_info().map_err(corrupt)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(corrupt)?;
    let px = &buf[..info.buffer_size()];
    let rgb = match info.color_type {
        png::ColorType::Rgb => px.to_vec(),
        png::ColorType::Rgba => px
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => px.iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => px
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => return Err("palette PNG was not expanded".into()),
    };
    Ok((info.width as usize, info.height as usize, rgb))
}

/// A PNG held in memory (an uploaded frame) as 8-bit RGB: `(width, height, rgb)`.
pub fn decode_png(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>)> {
    decode(std::io::Cursor::new(bytes)).map_err(DataError::Invalid)
}

/// Reads any PNG (grey, RGBA, palette, 16-bit) as 8-bit RGB: `(width, height, rgb)`.
pub fn read_png(path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let f = File::open(path).map_err(|e| IoError::new(path, "open", e))?;
    decode(BufReader::new(f)).map_err(|e| DataError::Invalid(format!("{}: {e}", path.display())))
}

/// What `export_frames` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub frames: usize,
    pub boxes: usize,
    /// Boxes per class, in `CLASSES` order.
    pub boxes_per_class: Vec<usize>,
    /// Box heights in pixels: smallest, median, largest.
    pub box_height_px: [f32; 3],
    pub seconds: f64,
}

/// File name of frame `i` in an exported folder.
pub fn frame_file_name(i: u64) -> String {
    format!("frame_{i:06}.png")
}

/// Renders frames `start..start+n` of a stream into `dir` as PNGs plus `annotations.json`.
pub fn export_frames(stream: &Stream, start: u64, n: u64, dir: &Path) -> Result<ExportSummary> {
    let t0 = std::time::Instant::now();
    // Frame indices become stream times and COCO ids (JSON numbers): exact below 2^53.
    const LAST: u64 = 1 << 53;
    if start.checked_add(n).is_none_or(|end| end > LAST) {
        nestevo_core::invalid!(
            "frames {start}..{start}+{n}: the frame indices must stay below 2^53 = {LAST}"
        );
    }
    std::fs::create_dir_all(dir).map_err(|e| IoError::new(dir, "create folder", e))?;
    let images: Vec<(CocoImage, Vec<GtBox>)> = (start..start + n)
        .into_par_iter()
        .map(|i| {
            let f = stream.frame(i);
            let name = frame_file_name(i);
            write_png(&dir.join(&name), f.width, f.height, &f.rgb)?;
            let img = CocoImage {
                id: i,
                file_name: name,
                width: f.width,
                height: f.height,
            };
            Ok((img, f.boxes))
        })
        .collect::<Result<_>>()?;
    let gt = coco_ground_truth(&images);
    let path = dir.join(ANNOTATIONS);
    let json = serde_json::to_vec(&gt).expect("ground truth always serialises");
    nestevo_core::error::write_atomic(&path, &json)?;

    let mut per_class = vec![0; CLASSES.len()];
    let mut heights: Vec<f32> = Vec::new();
    for (_, bs) in &images {
        for b in bs {
            per_class[b.class] += 1;
            heights.push(b.height());
        }
    }
    heights.sort_by(f32::total_cmp);
    let q = |p: f32| {
        heights
            .get(((heights.len().saturating_sub(1)) as f32 * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok(ExportSummary {
        frames: images.len(),
        boxes: heights.len(),
        boxes_per_class: per_class,
        box_height_px: [q(0.0), q(0.5), q(1.0)],
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Reads a folder of PNG frames as a stream. With `annotations.json` (COCO style) the frames are
/// its images in id order, with their boxes; without it, every `*.png` in name order, unlabelled,
/// numbered from 0 and timed at an assumed 30 fps.
pub fn read_frames_dir(dir: &Path) -> Result<Vec<Frame>> {
    check!(dir.is_dir(), "{} is not a folder of frames", dir.display());
    let ann = dir.join(ANNOTATIONS);
    if ann.exists() {
        return read_labelled(dir, &ann);
    }
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| IoError::new(dir, "list", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    names.sort();
    check!(!names.is_empty(), "{} holds no .png frames", dir.display());
    names
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let (width, height, rgb) = read_png(p)?;
            Ok(Frame {
                width,
                height,
                rgb,
                boxes: Vec::new(),
                index: i as u64,
                time_s: i as f64 / 30.0,
            })
        })
        .collect()
}

fn read_labelled(dir: &Path, ann: &Path) -> Result<Vec<Frame>> {
    let where_ = ann.display();
    let f = File::open(ann).map_err(|e| IoError::new(ann, "open", e))?;
    let gt: CocoGroundTruth = serde_json::from_reader(BufReader::new(f)).map_err(|e| {
        DataError::Invalid(format!(
            "{where_}: not COCO-style ground truth (needs images, annotations, categories): {e}"
        ))
    })?;
    // Categories map to our classes by name, so foreign id numbering still works.
    let mut cat = HashMap::new();
    for c in &gt.categories {
        let Some(k) = CLASSES.iter().position(|n| *n == c.name) else {
            invalid!(
                "{where_}: categories: unknown class `{}` (allowed: {})",
                c.name,
                CLASSES.join(", ")
            );
        };
        cat.insert(c.id, k);
    }
    let mut boxes: HashMap<u64, Vec<GtBox>> = HashMap::new();
    let ids: std::collections::HashSet<u64> = gt.images.iter().map(|i| i.id).collect();
    for a in &gt.annotations {
        let Some(&class) = cat.get(&a.category_id) else {
            invalid!(
                "{where_}: annotation {}: category_id {} is not among the categories",
                a.id,
                a.category_id
            );
        };
        check!(
            ids.contains(&a.image_id),
            "{where_}: annotation {}: image_id {} is not among the images",
            a.id,
            a.image_id
        );
        let [x, y, w, h] = a.bbox;
        check!(
            [x, y, w, h].iter().all(|v| v.is_finite()) && w >= 0.0 && h >= 0.0,
            "{where_}: annotation {}: bbox {:?} must be finite [x, y, width >= 0, height >= 0]",
            a.id,
            a.bbox
        );
        boxes.entry(a.image_id).or_default().push(GtBox {
            class,
            x0: x,
            y0: y,
            x1: x + w,
            y1: y + h,
        });
    }
    let mut images = gt.images.clone();
    images.sort_by_key(|i| i.id);
    images
        .par_iter()
        .enumerate()
        .map(|(pos, img)| {
            let p = dir.join(&img.file_name);
            let (width, height, rgb) =
                read_png(&p).ctx(|| format!("{where_}: image {}", img.id))?;
            check!(
                width == img.width && height == img.height,
                "{}: is {width}x{height} pixels but {where_} says {}x{}",
                p.display(),
                img.width,
                img.height
            );
            Ok(Frame {
                width,
                height,
                rgb,
                boxes: boxes.get(&img.id).cloned().unwrap_or_default(),
                index: img.id,
                time_s: pos as f64 / 30.0,
            })
        })
        .collect()
}
