//! Sample images for demos: a blue handwritten-looking signature and a red round seal, both PNG
//! with a transparent background (what Decree 30 asks for). Real agencies upload their own.

fn png(w: u32, h: u32, px: impl Fn(f64, f64) -> bool, rgba: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(if px(f64::from(x), f64::from(y)) { &rgba } else { &[0, 0, 0, 0] });
        }
    }
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    if let Ok(mut wr) = enc.write_header() {
        let _ = wr.write_image_data(&data);
    }
    out
}

/// A blue scribble; `seed` varies its shape so two people's signatures differ.
pub fn signature_png(seed: u32) -> Vec<u8> {
    let k = 8.0 + f64::from(seed % 7);
    png(
        360,
        140,
        move |x, y| {
            let t = x / 360.0;
            let curve = 70.0 + 45.0 * (t * k).sin() * (1.0 - t) + 10.0 * (t * 31.0).cos();
            (y - curve).abs() < 2.6 + 1.2 * (1.0 - t)
        },
        [25, 45, 190, 255],
    )
}

/// A red seal: two rings and a star in the middle.
pub fn seal_png() -> Vec<u8> {
    png(
        400,
        400,
        |x, y| {
            let (dx, dy) = (x - 200.0, y - 200.0);
            let r = (dx * dx + dy * dy).sqrt();
            let a = dy.atan2(dx);
            let star = r < 40.0 + 25.0 * ((a * 2.5).cos()).abs().powi(6);
            (182.0..196.0).contains(&r) || (128.0..134.0).contains(&r) || star
        },
        [215, 25, 32, 255],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appearance::{Colour, Image};

    #[test]
    fn samples_are_what_decree_30_asks_for() {
        let s = Image::from_png(&signature_png(1)).unwrap();
        assert!(s.is_transparent());
        assert_eq!(s.dominant_colour(), Colour::Blue);
        let seal = Image::from_png(&seal_png()).unwrap();
        assert!(seal.is_transparent());
        assert_eq!(seal.dominant_colour(), Colour::Red);
    }
}
