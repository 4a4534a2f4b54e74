//! Accuracy and speed of `Detector::detect` on the lingua test samples.
//! Run: `cargo run --release -p omnidesk-language --example detect-bench`

#[path = "../tests/support/corpus.rs"]
mod corpus;

use std::time::Instant;

use omnidesk_language::Detector;

fn main() {
    let detector = Detector::new(&corpus::allowlist()).expect("allowlist");
    let mut total_ns: u128 = 0;
    let mut total_n: usize = 0;
    let mut per_class = vec![(0usize, 0usize, 0usize, 0usize); corpus::CLASSES.len()];
    print!("{:<4}", "lang");
    for (name, _) in corpus::CLASSES {
        print!(" {:>14}", name);
    }
    println!("   (accuracy of the best guess; [reliable share / precision when reliable])");
    for (code, dir) in corpus::LANGUAGES {
        print!("{code:<4}");
        for (k, (_, file)) in corpus::CLASSES.iter().enumerate() {
            let samples = corpus::samples(dir, file);
            let (mut ok, mut rel, mut rel_ok) = (0, 0, 0);
            let start = Instant::now();
            for s in &samples {
                let d = std::hint::black_box(detector.detect(s, None));
                let right = d.language.as_deref() == Some(*code);
                ok += usize::from(right);
                rel += usize::from(d.reliable);
                rel_ok += usize::from(d.reliable && right);
            }
            total_ns += start.elapsed().as_nanos();
            total_n += samples.len();
            let n = samples.len();
            let c = &mut per_class[k];
            c.0 += ok;
            c.1 += n;
            c.2 += rel;
            c.3 += rel_ok;
            print!(
                " {:>6.1}% [{:>3.0}/{:>3.0}]",
                100.0 * ok as f64 / n as f64,
                100.0 * rel as f64 / n as f64,
                100.0 * rel_ok as f64 / rel.max(1) as f64
            );
        }
        println!();
    }
    print!("all ");
    for (ok, n, rel, rel_ok) in &per_class {
        print!(
            " {:>6.1}% [{:>3.0}/{:>3.0}]",
            100.0 * *ok as f64 / *n as f64,
            100.0 * *rel as f64 / *n as f64,
            100.0 * *rel_ok as f64 / (*rel).max(1) as f64
        );
    }
    println!();
    println!(
        "{total_n} detections, mean {:.1} µs per detection",
        total_ns as f64 / total_n as f64 / 1000.0
    );
}
