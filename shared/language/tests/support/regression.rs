//! A quick guard on the lingua samples (the first few of each file), run in every
//! `cargo test`; the full figures come from `examples/detect-bench.rs` in release.

use omnidesk_language::Detector;

use super::corpus;

const PER_FILE: usize = 30;
/// Least accuracy per length class on that subset, a few points under what it measured.
const FLOORS: [f64; 3] = [0.77, 0.88, 0.97];

#[test]
fn accuracy_on_lingua_samples_holds() {
    let detector = Detector::new(&corpus::allowlist()).expect("allowlist");
    for (k, (class, file)) in corpus::CLASSES.iter().enumerate() {
        let (mut ok, mut n) = (0usize, 0usize);
        for (code, dir) in corpus::LANGUAGES {
            for s in corpus::samples(dir, file).into_iter().take(PER_FILE) {
                n += 1;
                ok += usize::from(detector.detect(s, None).language.as_deref() == Some(*code));
            }
        }
        let accuracy = ok as f64 / n as f64;
        println!("{class}: {:.1}% of {n}", 100.0 * accuracy);
        assert!(
            accuracy >= FLOORS[k],
            "{class}: {accuracy:.3} < {}",
            FLOORS[k]
        );
    }
}
