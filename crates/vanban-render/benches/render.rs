//! Rendering throughput on one thread: a cold render (fonts and template loaded), then warm
//! renders of the same two-page công văn, as a server renders draft previews all day.
//! `bench/render.sh` runs this beside LibreOffice converting the same document as DOCX.
//!
//! cargo bench -p vanban-render --bench render [-- N]

use std::time::Instant;

use chrono::NaiveDate;
use vanban_render::{DocumentSpec, RenderOptions, Renderer};

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/documents/cong_van.json");
    let spec: DocumentSpec = serde_json::from_str(&std::fs::read_to_string(path).expect("example")).expect("spec");
    let opts = RenderOptions::on(NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"));

    let t = Instant::now();
    let renderer = Renderer::new().expect("fonts");
    let first = renderer.render(&spec, opts).expect("render");
    let cold = t.elapsed();
    assert_eq!(first.pages, 2, "the benchmark document is a two-page công văn");

    let t = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let mut s = spec.clone();
        // A different number each time, as every document differs: no cached output reused.
        s.number = Some(u32::try_from(i + 1).unwrap_or(1));
        bytes += renderer.render(&s, opts).expect("render").pdf.len();
    }
    let warm = t.elapsed();
    let ms = warm.as_secs_f64() * 1000.0 / n as f64;
    println!("vanban render (typst, in-process), two-page công văn, one thread:");
    println!("  cold (fonts + template + first render): {:.1} ms", cold.as_secs_f64() * 1000.0);
    println!(
        "  warm: {n} documents in {:.2} s = {ms:.2} ms/document = {:.0} documents/s",
        warm.as_secs_f64(),
        1000.0 / ms
    );
    println!("  average PDF size {} bytes", bytes / n);
    println!("VANBAN_MS_PER_DOC={ms:.3}");
}
