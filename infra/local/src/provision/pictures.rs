//! Product pictures drawn here, for demo data (`make seed`), the tests and the browser test:
//! no photo is shipped, so there is no licence to track beyond the project's own (Apache-2.0).
//!
//! A picture is a soft studio background with the product's silhouette for its category (a
//! screen, a laptop, a phone, headphones, a kettle, a box) in a colour taken from its name,
//! with a little grain so JPEG behaves as on a photo. Also the uploads a shop must refuse: a
//! "PNG" whose header declares 30,000 x 30,000 pixels in a 65-byte file.

use image::{Rgb, RgbImage};

/// A colour from `name` (the same name, the same colour).
fn hue(name: &str) -> [u8; 3] {
    let mut h: u32 = 2_166_136_261;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    let palette = [
        [38, 70, 83],
        [42, 157, 143],
        [233, 196, 106],
        [244, 162, 97],
        [231, 111, 81],
        [61, 64, 91],
        [129, 178, 154],
        [200, 85, 61],
        [47, 72, 88],
        [90, 24, 154],
    ];
    palette[(h % palette.len() as u32) as usize]
}

/// Whether (x, y), in a 0..1 square, is inside the silhouette of `category`.
fn inside(category: &str, x: f32, y: f32) -> bool {
    let rect = |x0: f32, y0: f32, x1: f32, y1: f32| x >= x0 && x <= x1 && y >= y0 && y <= y1;
    let circle = |cx: f32, cy: f32, r: f32| (x - cx).powi(2) + (y - cy).powi(2) <= r * r;
    match category {
        "tvs" | "monitors" => {
            rect(0.12, 0.2, 0.88, 0.68)
                || rect(0.45, 0.68, 0.55, 0.78)
                || rect(0.3, 0.78, 0.7, 0.82)
        }
        "laptops" => rect(0.22, 0.22, 0.78, 0.6) || rect(0.14, 0.6, 0.86, 0.68),
        "phones" | "tablets" => rect(0.36, 0.14, 0.64, 0.86) && !rect(0.39, 0.2, 0.61, 0.78),
        "headphones" | "audio" => {
            (circle(0.5, 0.45, 0.3) && !circle(0.5, 0.45, 0.25) && y < 0.5)
                || rect(0.17, 0.45, 0.3, 0.72)
                || rect(0.7, 0.45, 0.83, 0.72)
        }
        "kitchen" => {
            circle(0.48, 0.55, 0.26)
                || rect(0.36, 0.22, 0.6, 0.32)
                || (rect(0.72, 0.45, 0.82, 0.62) && !circle(0.48, 0.55, 0.26))
        }
        _ => rect(0.25, 0.3, 0.75, 0.75) || (rect(0.2, 0.22, 0.8, 0.3)),
    }
}

/// The picture of a product (`width` x `height`).
pub fn product(category: &str, name: &str, width: u32, height: u32) -> RgbImage {
    let colour = hue(name);
    let mut grain = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(width);
    let side = width.min(height) as f32;
    let (ox, oy) = ((width as f32 - side) / 2.0, (height as f32 - side) / 2.0);
    RgbImage::from_fn(width, height, |px, py| {
        grain ^= grain << 13;
        grain ^= grain >> 7;
        grain ^= grain << 17;
        let noise = (grain % 7) as i32 - 3;
        let (x, y) = ((px as f32 - ox) / side, (py as f32 - oy) / side);
        let base = if inside(category, x, y) {
            // Lit from the top left.
            let light = 1.15 - 0.35 * (x + y) / 2.0;
            colour.map(|c| (f32::from(c) * light).min(255.0) as i32)
        } else {
            let shade = 245 - (py * 30 / height.max(1)) as i32;
            [shade, shade, shade - 4]
        };
        Rgb(base.map(|c| (c + noise).clamp(0, 255) as u8))
    })
}

/// `image` as a JPEG of quality 90.
pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(image)
        .expect("encoding to memory does not fail");
    out
}

/// A PNG that declares `width` x `height` pixels and holds almost none (a decompression bomb's
/// header): a shop must refuse it before decoding.
pub use aisle::usecases::images::png_header;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_decode_and_the_bomb_declares_its_size() {
        let picture = jpeg(&product("tvs", "Aisle 55 TV", 640, 480));
        let back = image::load_from_memory(&picture).unwrap();
        assert_eq!((back.width(), back.height()), (640, 480));
        let bomb = png_header(30_000, 30_000);
        assert_eq!(bomb.len(), 65);
        let reader = image::ImageReader::new(std::io::Cursor::new(&bomb))
            .with_guessed_format()
            .unwrap();
        assert_eq!(reader.into_dimensions().unwrap(), (30_000, 30_000));
    }
}
