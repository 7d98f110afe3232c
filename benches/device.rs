//! The cost of each device law on one 1024x1024 ISAAC layer: programming (levels, flips and the
//! law's draws) and a run of 64 input vectors, beside the noiseless kernels (the exact product)
//! and the nominal analogue path (conductances, no law), so that a sweep's cost can be planned.
//! Run: cargo bench --no-default-features --bench device

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use nestevo_arch::{preset, ArchSpec};
use nestevo_cim::{CimMatrix, NoiseSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const B: usize = 64;
const K: usize = 1024;
const N: usize = 1024;

fn with(laws: &[&str]) -> ArchSpec {
    let mut s = preset("isaac").unwrap();
    s.device.laws = laws.iter().map(|l| l.parse().unwrap()).collect();
    s.device_laws("bench").unwrap();
    s
}

fn bench(c: &mut Criterion) {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let w = Array2::from_shape_fn((K, N), |_| r.gen_range(-32768i64..32768));
    let x = Array2::from_shape_fn((B, K), |_| r.gen_range(0i64..65536));
    let table = std::env::temp_dir().join("nestevo-bench-device-table.csv");
    std::fs::write(
        &table,
        "level,mean_us,sd_us\n0,1.2,0.3\n1,33.5,1.1\n2,67.0,1.4\n3,98.8,0.9\n",
    )
    .unwrap();
    let table_law = format!("table:file={}", table.display());
    let cases: Vec<(&str, Vec<&str>, NoiseSpec)> = vec![
        ("noiseless_exact", vec![], NoiseSpec::default()),
        (
            "nominal_analogue",
            vec!["drift:time_s=0"],
            NoiseSpec::default(),
        ),
        (
            "programming_mu0.01",
            vec!["programming:mu=0.01"],
            NoiseSpec::default(),
        ),
        ("read_mu0.01", vec!["read:mu=0.01"], NoiseSpec::default()),
        (
            "stuck_1pct",
            vec!["stuck:off_rate=0.005,on_rate=0.005"],
            NoiseSpec::default(),
        ),
        (
            "drift_1day",
            vec!["drift:time_s=86400"],
            NoiseSpec::default(),
        ),
        (
            "drift_1day_compensated",
            vec!["drift:time_s=86400,compensate=true"],
            NoiseSpec::default(),
        ),
        ("table", vec![table_law.as_str()], NoiseSpec::default()),
    ];
    let mut g = c.benchmark_group("device_law_1024x1024");
    g.sample_size(10);
    for (name, laws, noise) in &cases {
        let spec = with(laws);
        g.bench_function(format!("program/{name}"), |b| {
            b.iter(|| CimMatrix::program(&spec, w.view(), noise).unwrap())
        });
        let m = CimMatrix::program(&spec, w.view(), noise).unwrap();
        g.bench_function(format!("run_batch{B}/{name}"), |b| {
            b.iter(|| m.mvm(x.view(), false).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
