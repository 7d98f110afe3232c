//! Export to PNG + COCO JSON, reading folders back, and clear errors on bad folders.

use nestevo_data::{
    contact_sheet, export_frames, read_frames_dir, read_png, write_png, Stream, StreamId,
    ANNOTATIONS,
};
use std::fs;

#[test]
fn exported_frames_read_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let s = Stream::new(StreamId::E, 4);
    let sum = export_frames(&s, 100, 12, dir.path()).unwrap();
    assert_eq!(sum.frames, 12);
    let frames = read_frames_dir(dir.path()).unwrap();
    assert_eq!(frames.len(), 12);
    for (k, f) in frames.iter().enumerate() {
        let want = s.frame(100 + k as u64);
        assert_eq!(f.index, want.index);
        assert_eq!(f.rgb, want.rgb, "pixels of frame {}", f.index);
        assert_eq!(f.boxes.len(), want.boxes.len());
        for (a, b) in f.boxes.iter().zip(&want.boxes) {
            assert_eq!(a.class, b.class);
            // COCO stores [x, y, w, h]; x + w may round in the last bit.
            for (u, v) in [(a.x0, b.x0), (a.y0, b.y0), (a.x1, b.x1), (a.y1, b.y1)] {
                assert!((u - v).abs() < 1e-4);
            }
        }
    }
    assert_eq!(
        sum.boxes,
        frames.iter().map(|f| f.boxes.len()).sum::<usize>()
    );
    // The labels are COCO style: categories named, bbox as [x, y, w, h], area, iscrowd.
    let j: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join(ANNOTATIONS)).unwrap()).unwrap();
    assert_eq!(j["categories"][0]["name"], "person");
    assert_eq!(j["categories"][0]["id"], 1);
    assert_eq!(j["images"].as_array().unwrap().len(), 12);
    let a = &j["annotations"][0];
    let bb: Vec<f64> = a["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!((a["area"].as_f64().unwrap() - bb[2] * bb[3]).abs() < 1e-3);
    assert_eq!(a["iscrowd"], 0);
}

#[test]
fn folders_without_labels_read_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Stream::new(StreamId::D, 0).with_size(40, 30);
    for (name, i) in [("b.png", 2u64), ("a.png", 1), ("c.PNG", 3)] {
        let f = s.frame(i);
        write_png(&dir.path().join(name), f.width, f.height, &f.rgb).unwrap();
    }
    fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
    let frames = read_frames_dir(dir.path()).unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].rgb, s.frame(1).rgb);
    assert_eq!(frames[2].rgb, s.frame(3).rgb);
    assert!(frames
        .iter()
        .all(|f| f.boxes.is_empty() && (f.width, f.height) == (40, 30)));
    assert_eq!(
        frames.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[test]
fn grey_and_rgba_pngs_read_as_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.png");
    let f = fs::File::create(&p).unwrap();
    let mut enc = png::Encoder::new(f, 2, 1);
    enc.set_color(png::ColorType::GrayscaleAlpha);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .unwrap()
        .write_image_data(&[10, 255, 200, 0])
        .unwrap();
    let (w, h, rgb) = read_png(&p).unwrap();
    assert_eq!((w, h, rgb), (2, 1, vec![10, 10, 10, 200, 200, 200]));
}

fn err(dir: &std::path::Path) -> String {
    format!("{:#}", read_frames_dir(dir).unwrap_err())
}

#[test]
fn bad_folders_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        err(&d.join("missing")).contains("is not a folder"),
        "{}",
        err(&d.join("missing"))
    );
    assert!(err(d).contains("holds no .png frames"), "{}", err(d));

    export_frames(&Stream::new(StreamId::A, 0), 0, 2, d).unwrap();
    let ann = d.join(ANNOTATIONS);
    let good = fs::read_to_string(&ann).unwrap();

    fs::write(&ann, "{ not json").unwrap();
    let e = err(d);
    assert!(e.contains("annotations.json") && e.contains("COCO"), "{e}");

    let mut j: serde_json::Value = serde_json::from_str(&good).unwrap();
    j["categories"][1]["name"] = "truck".into();
    fs::write(&ann, j.to_string()).unwrap();
    let e = err(d);
    assert!(
        e.contains("unknown class `truck`") && e.contains("person, car, bicycle, dog"),
        "{e}"
    );

    let mut j: serde_json::Value = serde_json::from_str(&good).unwrap();
    j["annotations"][0]["bbox"][2] = (-3.0).into();
    fs::write(&ann, j.to_string()).unwrap();
    let e = err(d);
    assert!(e.contains("bbox") && e.contains("width >= 0"), "{e}");

    let mut j: serde_json::Value = serde_json::from_str(&good).unwrap();
    j["annotations"][0]["image_id"] = 77.into();
    fs::write(&ann, j.to_string()).unwrap();
    let e = err(d);
    assert!(e.contains("image_id 77 is not among the images"), "{e}");

    let mut j: serde_json::Value = serde_json::from_str(&good).unwrap();
    j["images"][0]["width"] = 64.into();
    fs::write(&ann, j.to_string()).unwrap();
    let e = err(d);
    assert!(
        e.contains("is 96x96 pixels but") && e.contains("64x96"),
        "{e}"
    );

    fs::write(&ann, &good).unwrap();
    fs::write(d.join("frame_000001.png"), b"not a png").unwrap();
    let e = err(d);
    assert!(
        e.contains("frame_000001.png") && e.contains("not a readable PNG"),
        "{e}"
    );
}

#[test]
fn contact_sheet_tiles_frames() {
    let s = Stream::new(StreamId::A, 0);
    let frames: Vec<_> = (0..6).map(|i| s.frame(i * 30)).collect();
    let (w, h, rgb) = contact_sheet(&frames, 3, 2, false);
    assert_eq!((w, h), (3 * (192 + 2) + 2, 2 * (192 + 2) + 2));
    assert_eq!(rgb.len(), w * h * 3);
    // Tile 4 (row 1, column 1) starts at (196, 196) and holds frame 4's top-left pixel, doubled.
    let at = |x: usize, y: usize| &rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
    assert_eq!(at(196, 196), &frames[4].rgb[0..3]);
    assert_eq!(at(197, 197), &frames[4].rgb[0..3]);
}

/// A folder source keeps its frames, times them by its fps, and refuses a bad fps and a frame
/// past its end, naming the folder.
#[test]
fn folder_sources_time_frames_and_refuse_what_they_lack() {
    use nestevo_data::{Folder, FrameSource};
    let dir = tempfile::tempdir().unwrap();
    nestevo_data::export_frames(&Stream::new(StreamId::D, 3), 0, 4, dir.path()).unwrap();
    let f = FrameSource::Folder(Folder::read(dir.path(), 10.0).unwrap());
    assert_eq!((f.frames(), f.labelled(), f.fps()), (Some(4), true, 10.0));
    let third = f.frame(2).unwrap();
    assert_eq!((third.index, third.time_s), (2, 0.2));
    assert_eq!(third.rgb, Stream::new(StreamId::D, 3).frame(2).rgb);
    let e = f.frame(4).unwrap_err().to_string();
    assert!(
        e.contains(&dir.path().display().to_string()) && e.contains("holds 4 frames"),
        "{e}"
    );
    let e = Folder::read(dir.path(), 0.0).unwrap_err().to_string();
    assert!(e.contains("fps 0") && e.contains("above 0"), "{e}");
}
