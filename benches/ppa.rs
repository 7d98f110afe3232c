//! Mapping plus the full report (table and JSON) of ResNet-18 and VGG-16 on ISAAC-CE.
//! Run: `taskset -c 0 cargo bench --no-default-features --bench ppa`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nestevo_arch::preset;
use nestevo_model::parse_model;
use nestevo_ppa::{network_report, render_network};

fn bench(c: &mut Criterion) {
    let arch = preset("isaac").unwrap();
    for (name, text) in [
        ("resnet18", include_str!("../models/resnet18.toml")),
        ("vgg16", include_str!("../models/vgg16.toml")),
    ] {
        c.bench_function(&format!("parse+map+report {name}"), |b| {
            b.iter(|| {
                let model = parse_model(black_box(text), name).unwrap();
                let r = network_report(&arch, &model, 1200).unwrap();
                let table = render_network(&r);
                let json = serde_json::to_string(&r).unwrap();
                black_box((table.len(), json.len()))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
