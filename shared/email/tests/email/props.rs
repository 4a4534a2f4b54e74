//! `parse` never panics, on arbitrary bytes and on mutated real messages.

use omnidesk_email::parse;
use proptest::prelude::*;

use crate::corpus::ALL;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse(&raw);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..ALL.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut raw = ALL[which].to_vec();
        for (at, byte, op) in edits {
            if raw.is_empty() { break; }
            let i = at.index(raw.len());
            match op {
                0 => raw[i] = byte,
                1 => raw.insert(i, byte),
                _ => { raw.remove(i); }
            }
        }
        if !raw.is_empty() {
            raw.truncate(cut.index(raw.len()) + 1);
        }
        let _ = parse(&raw);
    }

    #[test]
    fn structural_bytes_never_panic(raw in prop::collection::vec(prop::sample::select(
        b"<>=?:;\r\n-\"&#/ abBQ\t".to_vec()), 0..2048)) {
        let mut msg = b"Content-Type: multipart/mixed; boundary=-\r\nSubject: =?utf-8?B?\r\n\r\n--\r\nContent-Type: text/html\r\n\r\n".to_vec();
        msg.extend(raw);
        let _ = parse(&msg);
    }
}

#[test]
#[ignore = "throughput measurement: run with --release -- --ignored --nocapture"]
fn parse_throughput() {
    let raw = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/talon/outlook.eml"
    ));
    let n = 5000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(parse(std::hint::black_box(raw)).unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "parse: {:.0} messages/s ({} bytes each, talon/outlook.eml)",
        n as f64 / secs,
        raw.len()
    );
}
