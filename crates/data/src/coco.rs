//! COCO-style ground truth (the `instances` format), so any COCO tool can read our labels.

use super::{GtBox, CLASSES};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: usize,
    pub height: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CocoAnnotation {
    pub id: u64,
    pub image_id: u64,
    /// 1-based: class index + 1.
    pub category_id: u64,
    /// `[x, y, width, height]` in pixels.
    pub bbox: [f32; 4],
    pub area: f32,
    #[serde(default)]
    pub iscrowd: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CocoCategory {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CocoGroundTruth {
    /// Free-form description; some COCO tools expect the key to exist.
    #[serde(default)]
    pub info: serde_json::Value,
    pub images: Vec<CocoImage>,
    pub annotations: Vec<CocoAnnotation>,
    pub categories: Vec<CocoCategory>,
}

/// Builds the ground truth for `(image, boxes)` pairs; annotation ids count from 1.
pub fn coco_ground_truth(images: &[(CocoImage, Vec<GtBox>)]) -> CocoGroundTruth {
    let mut annotations = Vec::new();
    for (img, boxes) in images {
        for b in boxes {
            annotations.push(CocoAnnotation {
                id: annotations.len() as u64 + 1,
                image_id: img.id,
                category_id: b.class as u64 + 1,
                bbox: [b.x0, b.y0, b.width(), b.height()],
                area: b.area(),
                iscrowd: 0,
            });
        }
    }
    CocoGroundTruth {
        info: serde_json::json!({ "description": "nestevo rendered frames" }),
        images: images.iter().map(|(i, _)| i.clone()).collect(),
        annotations,
        categories: CLASSES
            .iter()
            .enumerate()
            .map(|(i, n)| CocoCategory {
                id: i as u64 + 1,
                name: n.to_string(),
            })
            .collect(),
    }
}
